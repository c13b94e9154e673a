"""How it works: the model and the loss, each term tied to the control that changes it."""

from __future__ import annotations

import streamlit as st

from dashboard import router

router.through_app()  # the first session of a new server may run this file directly
st.set_page_config(page_title="How it works · Bayes-by-Backprop", layout="wide")
st.title("How it works")
st.markdown(
    "An ordinary network has one value per weight. A **Bayesian** network has a *distribution* over "
    "its weights: every setting of the weights is a different function, and the spread of those "
    "functions is the network's uncertainty. **Bayes-by-Backprop** (Blundell et al. 2015) learns that "
    "distribution with the same tools as ordinary training: a loss, its gradient, and Adam. "
    "The controls named in *italics* are in the main page's sidebar."
)

st.header("1. The model")
st.markdown("A point's observed value is the network's output plus Gaussian noise:")
st.latex(r"y = f(x; w) + \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, \sigma_{\text{noise}}^2)")
st.markdown(
    "- $f$ is a multilayer perceptron $1 \\to h_1 \\to \\dots \\to 1$: *Hidden layers*, *Units in hidden "
    "layer k*, *Activation* (0 layers is Bayesian linear regression).\n"
    "- $\\sigma_{\\text{noise}}$ is *Noise σ*, fixed, or learned with the weights under *Learn the noise*."
)

st.header("2. The prior")
st.latex(r"p(w) = \prod_{j=1}^{P} \mathcal{N}(w_j;\ 0,\ \sigma_p^2)")
st.markdown(
    "One independent Gaussian per weight and bias, all with the same scale $\\sigma_p$: *Prior σ*. "
    "A large $\\sigma_p$ allows wild functions (see *Posterior → Before and after the data*); a small "
    "one keeps them gentle and pulls the fit towards zero."
)

st.header("3. The approximate posterior")
st.latex(r"q(w) = \prod_{j=1}^{P} \mathcal{N}(w_j;\ \mu_j,\ \sigma_j^2), \qquad \sigma_j = \log(1 + e^{\rho_j})")
st.markdown(
    "Each weight gets its own mean $\\mu_j$ and standard deviation $\\sigma_j$ (kept positive by the "
    "softplus of an unconstrained $\\rho_j$). Training moves $\\mu$ and $\\rho$. Where they start is "
    "*Advanced → Initialisation*: the article starts every $\\mu_j = 0$, $\\rho_j = 0$ "
    "($\\sigma_j \\approx 0.69$)."
)

st.header("4. The loss: the negative ELBO")
st.latex(
    r"\mathcal{L}(\mu, \rho) = \underbrace{\beta\, \mathrm{KL}\big(q(w)\,\|\,p(w)\big)}_{\text{complexity}}"
    r"\; \underbrace{-\; \mathbb{E}_{q(w)} \Big[\sum_{i=1}^{N} \log \mathcal{N}\big(y_i;\ f(x_i; w),\ "
    r"\sigma_{\text{noise}}^2\big)\Big]}_{\text{negative log-likelihood}}"
)
st.markdown(
    "Minimising it trades fitting the points (the likelihood term, the orange curve of the loss chart) "
    "against staying close to the prior (the KL term, green); their sum is the blue curve. "
    "$\\beta$ is *Advanced → KL weight* (1 gives the true ELBO, the bound on the log evidence "
    "$\\log p(y) \\ge -\\mathcal{L}$). With a *Batch size* below $N$, the likelihood of a batch $B$ "
    "is scaled by $N/|B|$ so the loss stays an unbiased estimate."
)

st.header("5. Estimating the loss and its gradient")
st.markdown("The expectation has no closed form. It is estimated with *S* weight samples, written so that "
            "gradients flow through them (the reparameterisation trick):")
st.latex(r"w^{(s)} = \mu + \sigma \odot \epsilon^{(s)}, \quad \epsilon^{(s)} \sim \mathcal{N}(0, I), \qquad "
         r"\mathbb{E}_q[\,\cdot\,] \approx \frac{1}{S} \sum_{s=1}^{S} (\,\cdot\,)\big|_{w = w^{(s)}}")
st.markdown("*S* is *Training MC samples* (the article: 1). The KL term has two estimators (*KL estimator*):")
st.latex(r"\text{closed form: } \sum_j \left[\log\frac{\sigma_p}{\sigma_j} + \frac{\sigma_j^2 + \mu_j^2}"
         r"{2\sigma_p^2} - \frac12\right] \qquad \text{Monte Carlo (the article's): } \frac{1}{S}\sum_s "
         r"\left[\log q(w^{(s)}) - \log p(w^{(s)})\right]")
st.markdown(
    "Both have the same expectation; the closed form has no sampling noise, so its curve is smoother. "
    "*Advanced → Local reparameterisation* (Kingma et al. 2015) samples each unit's pre-activation "
    "instead of the weights: same model, less gradient noise (closed-form KL only). "
    "Adam takes the steps: *Learning rate*, *Epochs*. *Seed* fixes every random draw, so a run, and a "
    "shared link, is reproducible."
)

st.header("6. Predicting")
st.markdown("A new input $x^*$ gets $S$ functions $f(x^*; w^{(s)})$ from $S$ posterior draws "
            "(*Predictive samples*). Their spread is the **epistemic** uncertainty, what more data would "
            "remove; the noise is the **aleatoric** one, what no data removes:")
st.latex(r"p(y^* \mid x^*) \approx \frac{1}{S}\sum_{s=1}^{S} \mathcal{N}\big(y^*;\ f(x^*; w^{(s)}),\ "
         r"\sigma_{\text{noise}}^2\big), \qquad \operatorname{Var}[y^*] \approx "
         r"\underbrace{\operatorname{Var}_s f(x^*; w^{(s)})}_{\text{epistemic}} + "
         r"\underbrace{\sigma_{\text{noise}}^2}_{\text{aleatoric}}")
st.markdown(
    "*Band of → f* shades the central *Interval level* of the functions (the article's band, columns "
    "`f_lower`, `f_upper` of the predictions CSV); *Band of → y* shades the same interval of a new "
    "observation, noise included (columns `lower`, `upper`: exact quantiles of the mixture above). "
    "*Inner interval* adds a second, narrower band."
)

st.header("7. What to look for")
st.markdown(
    "- Far from the points, the band should widen: the data no longer pins the function down.\n"
    "- Between two clusters (preset *Gap between clusters*) a mean-field $q$ may stay too confident; "
    "this is a known limit of the factorised Gaussian (Foong et al. 2019).\n"
    "- Mean-field variational inference tends to under-estimate variances; if many $\\sigma_j$ collapse "
    "the band is too narrow. If many stay at the prior, the data never reached them (over-pruning). "
    "The *Posterior* page checks both."
)

st.header("References")
st.markdown(
    "- C. Blundell, J. Cornebise, K. Kavukcuoglu, D. Wierstra. *Weight Uncertainty in Neural Networks.* "
    "ICML 2015. [arXiv:1505.05424](https://arxiv.org/abs/1505.05424)\n"
    "- A. Graves. *Practical Variational Inference for Neural Networks.* NeurIPS 2011.\n"
    "- D. P. Kingma, M. Welling. *Auto-Encoding Variational Bayes.* ICLR 2014. "
    "[arXiv:1312.6114](https://arxiv.org/abs/1312.6114)\n"
    "- D. P. Kingma, T. Salimans, M. Welling. *Variational Dropout and the Local Reparameterization "
    "Trick.* NeurIPS 2015. [arXiv:1506.02557](https://arxiv.org/abs/1506.02557)\n"
    "- D. P. Kingma, J. Ba. *Adam: A Method for Stochastic Optimization.* ICLR 2015. "
    "[arXiv:1412.6980](https://arxiv.org/abs/1412.6980)\n"
    "- A. Y. K. Foong, Y. Li, J. M. Hernández-Lobato, R. E. Turner. *'In-Between' Uncertainty in "
    "Bayesian Neural Networks.* ICML 2019 workshop. [arXiv:1906.11537](https://arxiv.org/abs/1906.11537)\n"
    "- B. Trippe, R. Turner. *Overpruning in Variational Bayesian Neural Networks.* NeurIPS 2017 "
    "workshop. [arXiv:1801.06230](https://arxiv.org/abs/1801.06230)\n"
    "- R. E. Turner, M. Sahani. *Two problems with variational expectation maximisation for time-series "
    "models.* In Bayesian Time Series Models, Cambridge University Press, 2011."
)
