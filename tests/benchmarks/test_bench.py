"""Smoke tests of the engine benchmark, and the check that its article loop is bnn's MC loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bnn
from benchmarks import engine_bench as bench
from benchmarks.article import ArticleNet
from benchmarks.engine_bench import Case
from bnn.loss import negative_elbo
from bnn.model import BayesMLP
from bnn.posterior import Draw


def test_article_loop_loss_decreases_on_the_article_problem(article_points: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = article_points
    losses = bench.article_train(x, y, epochs=300, samples=1, seed=0)
    assert len(losses) == 30  # logged every 10 epochs
    # From mu = 0 the one-sample loss is in the thousands (outputs ~ N(0, 2^2) against
    # targets up to |3| with noise 0.1); after 300 epochs it is several times lower (ratio of
    # medians 0.16-0.35 over seeds 0-5). Medians, because one-sample losses are noisy.
    assert np.median(losses[-10:]) < 0.5 * np.median(losses[:3])


def _flat(values: dict[str, torch.Tensor], kind: str) -> torch.Tensor:
    """The article net's named tensors in bnn's flat layout: per layer the (out, in)
    weights row by row, then the biases. kind: "mu" or "rho"."""
    return torch.cat([values[f"{layer}.{wb}_{kind}"].reshape(-1) for layer in ("hidden", "out") for wb in "wb"])


def test_article_loss_and_gradients_equal_bnn_mc_loss_at_the_same_draws(
        article_points: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """Same value: the article's loop computes bnn's kl="mc" negative ELBO. Same rho
    gradient; the mu gradient differs by mean_s(-eps_s / sigma), the zero-mean term the
    article adds by evaluating q at the detached means (`.data`)."""
    x, y = (torch.as_tensor(v, dtype=torch.float32) for v in article_points)
    x, samples = x.reshape(-1, 1), 4
    net = ArticleNet()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # away from the all-zero start so that every term matters
        for name, p in net.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (-1.0 if "rho" in name else 0.0))
    draws: list[torch.Tensor] = []  # each layer's drawn (w, b), flattened, in forward order
    for layer in (net.hidden, net.out):
        layer.register_forward_hook(lambda m, i, o: draws.append(torch.cat([m.w.reshape(-1), m.b])))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        article_loss = net.loss(x, y, samples)
    names, params = zip(*net.named_parameters())
    article_grads = dict(zip(names, torch.autograd.grad(article_loss, params)))

    model = BayesMLP(1, bnn.Config(kl="mc"))
    q = model.posterior
    with torch.no_grad():
        q.mu.copy_(_flat(dict(net.named_parameters()), "mu"))
        q.rho.copy_(_flat(dict(net.named_parameters()), "rho"))
    w = torch.stack([torch.cat(draws[2 * s:2 * s + 2]) for s in range(samples)]).detach()  # (S, P)
    eps = (w - q.mu.detach()) / q.sigma.detach()
    monkeypatch.setattr(q, "draw", lambda s, generator=None: Draw(q.mu + q.sigma * eps, eps, q.sigma))  # replay
    terms = negative_elbo(model, x, y, n_total=6, samples=samples, kl=bnn.KLEstimator.MC)
    mu_grad, rho_grad = torch.autograd.grad(terms.total, [q.mu, q.rho])

    # float32 sums of a few hundred terms of size up to ~1e3: 1e-5 relative is rounding.
    torch.testing.assert_close(article_loss, terms.total, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(_flat(article_grads, "rho"), rho_grad, rtol=1e-4, atol=1e-3)
    detached_term = -(eps / q.sigma.detach()).mean(dim=0)
    torch.testing.assert_close(_flat(article_grads, "mu"), mu_grad + detached_term, rtol=1e-4, atol=1e-3)


def test_measure_times_each_side_and_reports_memory() -> None:
    row: dict = {"threads": 1, "samples": 1}
    for name, case in (("article", Case("article", 1, 4, 2)), ("bnn_mc", Case("bnn", 1, 4, 2, kl="mc")),
                       ("bnn_closed", Case("bnn", 1, 4, 2, kl="closed"))):
        res = bench.measure(case)
        for clock in ("wall", "cpu"):
            assert len(res[f"all_{clock}"]) == 2 and res[clock] == min(res[f"all_{clock}"]) > 0
            assert bench.ms_per_epoch(res, clock) == pytest.approx(1e3 * res[clock] / 4)
        assert 0 < res["rss_import_mb"] <= res["rss_warm_mb"] <= res["rss_peak_mb"]
        row[name] = res
    results = {"per_epoch": [row], "end_to_end": []}
    for clock in ("wall", "cpu"):
        ratio = bench.ms_per_epoch(row["article"], clock) / bench.ms_per_epoch(row["bnn_mc"], clock)
        [(passed, text)] = bench.targets(results, clock=clock)
        assert passed == (ratio >= bench.RATIO_TARGETS[1]) and text.endswith(f"{ratio:.1f}")
        meta = {"date": "d", "commit": "c", "torch": "t", "python": "p", "cpus": "2", "load": "0"}
        last = bench.report(results, meta, epochs=4, repeats=2, clock=clock)[-1]
        assert last == ("PASS  " if passed else "FAIL  ") + text


def test_run_case_measures_in_a_fresh_process() -> None:
    res = bench.run_case(Case("bnn", 2, 3, 1, kl="closed"))
    assert res["wall"] > 0 and res["cpu"] > 0 and res["rss_peak_mb"] > 0


def test_bad_options_get_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--epochs", "0"])
    assert exit_info.value.code == 2 and "must be a whole number >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("kl", ["mc", "closed"])
def test_profile_step_phases_and_operator_count_independent_of_samples(kl: str) -> None:
    one, many = bench.profile_step(1, kl, steps=5), bench.profile_step(8, kl, steps=5, clock="cpu")
    for p in (one, many):
        assert p["total"] == pytest.approx(p["zero_grad"] + p["loss"] + p["backward"] + p["adam"])
        assert min(p["loss"], p["backward"], p["adam"]) > 0
    # The engine's point: all samples go through one batched pass, so the number of
    # dispatched operators (the cost on nets this small) does not grow with S.
    assert one["aten_ops"] == many["aten_ops"] > 20
