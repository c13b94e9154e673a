"""The JAX peers of ``benchmarks.step_bench``: NumPyro SVI and a hand-written jitted JAX loop.

Run by the benchmark in a Python that has ``benchmarks/requirements-peers.txt`` installed
(never imported by bnn or its tests; it imports neither torch nor bnn). Both peers fit the
article's model, the one ``bnn.Config(kl="mc")`` fits: a 1-32-1 sigmoid network, every weight
and bias N(0, 10^2) a priori, a Gaussian likelihood with std 0.1, a mean-field Gaussian
posterior with sigma = softplus(rho) started at mu = 0, sigma = softplus(0), the Monte Carlo
ELBO over S weight draws, Adam with lr 0.1, full batch.

- ``numpyro``: the model written with ``numpyro.sample``, ``AutoNormal`` (its scale is a
  softplus of an unconstrained parameter), ``Trace_ELBO(num_particles=S)`` (vectorised) and
  ``svi.run(..., progress_bar=False)``, which runs ``svi.update`` as one ``lax.scan``. The
  steady state times that scan under ``jax.jit`` (``svi.run`` itself traces a new scan body
  on every call, so calling it again compiles again); a fresh process times a plain first
  ``svi.run``, compile included, as a user would call it.
- ``jax``: the same ELBO written by hand (reparameterised draws, ``log q - log p`` at them)
  with ``jax.grad`` and Adam by hand, K steps as one jitted ``lax.scan``.

Protocol (see step_bench): ``python peers_jax.py '{"impl": ..., "samples": S, "round_seconds": T}'``
prints ``ready {...}`` after its warm-up and compile, then answers each ``round`` line on stdin
with one JSON line of the round's CPU and wall seconds and its step count. With ``"fresh": true``
it imports, runs the article's 2000 steps at S = 1 once and prints the times.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One core, as the torch contenders: XLA's CPU backend otherwise runs Eigen on a thread pool.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

X = [-2.0, -1.8, -1.0, 1.0, 1.8, 2.0]  # the article's six points of -x^4 + 3x^2 + 1
HIDDEN, PRIOR, NOISE, LR = 32, 10.0, 0.1, 0.1


def article_points():  # noqa: ANN201
    import jax.numpy as jnp

    x = jnp.asarray(X).reshape(-1, 1)
    return x, (-x**4 + 3 * x**2 + 1).reshape(-1)


def numpyro_runner(samples: int):  # noqa: ANN201
    """(run(key, steps) -> final loss, as svi.run computes it)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.nn import sigmoid
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value

    def model(x, y):  # noqa: ANN001, ANN202
        def weight(name: str, shape: tuple[int, ...]):  # noqa: ANN202
            return numpyro.sample(name, dist.Normal(0.0, PRIOR).expand(shape).to_event(len(shape)))

        w1, b1 = weight("w1", (1, HIDDEN)), weight("b1", (HIDDEN,))
        w2, b2 = weight("w2", (HIDDEN, 1)), weight("b2", (1,))
        f = (sigmoid(x @ w1 + b1) @ w2 + b2).squeeze(-1)
        numpyro.sample("y", dist.Normal(f, NOISE).to_event(1), obs=y)

    zeros = {"w1": jnp.zeros((1, HIDDEN)), "b1": jnp.zeros(HIDDEN), "w2": jnp.zeros((HIDDEN, 1)), "b2": jnp.zeros(1)}
    guide = AutoNormal(model, init_loc_fn=init_to_value(values=zeros), init_scale=float(jnp.log(2.0)))
    svi = SVI(model, guide, numpyro.optim.Adam(LR), Trace_ELBO(num_particles=samples, vectorize_particles=True))
    x, y = article_points()

    def run(key, steps: int):  # noqa: ANN001, ANN202
        return svi.run(key, steps, x, y, progress_bar=False).losses[-1]

    def scan(key, steps: int):  # noqa: ANN001, ANN202 - svi.run's own loop, under jit
        state = run.start._replace(rng_key=key)
        _, losses = jax.lax.scan(lambda st, _: svi.update(st, x, y), state, None, length=steps)
        return losses[-1]

    def jittable():  # noqa: ANN202 - svi.init outside the trace: it keeps state on the SVI object
        run.start = svi.init(jax.random.PRNGKey(0), x, y)
        return scan

    run.jittable = jittable
    return run


def jax_runner(samples: int):  # noqa: ANN201
    """(run(key, steps) -> final loss): the ELBO, its gradient and Adam by hand, in one lax.scan."""
    import jax
    import jax.numpy as jnp

    x, y = article_points()
    sizes = [(1, HIDDEN), (HIDDEN,), (HIDDEN, 1), (1,)]

    def negative_elbo(params, key):  # noqa: ANN001, ANN202
        mu, rho = params
        sigma = [jax.nn.softplus(r) for r in rho]
        keys = jax.random.split(key, len(mu))
        eps = [jax.random.normal(k, (samples, *m.shape)) for k, m in zip(keys, mu)]
        w = [m + s * e for m, s, e in zip(mu, sigma, eps)]
        h = jax.nn.sigmoid(jnp.einsum("nd,sdh->snh", x, w[0]) + w[1][:, None, :])
        f = jnp.einsum("snh,sho->sno", h, w[2])[..., 0] + w[3]
        log_like = (-0.5 * ((y - f) / NOISE) ** 2 - jnp.log(NOISE)).sum(axis=1)
        log_q = sum((-0.5 * e**2 - jnp.log(s)).reshape(samples, -1).sum(1) for e, s in zip(eps, sigma))
        log_p = sum((-0.5 * (v / PRIOR) ** 2 - jnp.log(PRIOR)).reshape(samples, -1).sum(1) for v in w)
        return jnp.mean(log_q - log_p - log_like)

    def step(state, key):  # noqa: ANN001, ANN202
        params, m, v, t = state
        loss, g = jax.value_and_grad(negative_elbo)(params, key)
        t = t + 1
        m = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        scale = LR * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        params = jax.tree.map(lambda p, a, b: p - scale * a / (jnp.sqrt(b) + 1e-8), params, m, v)
        return (params, m, v, t), loss

    def run(key, steps: int):  # noqa: ANN001, ANN202
        zeros = [jnp.zeros(s) for s in sizes]
        params = (zeros, [jnp.zeros(s) for s in sizes])
        state = (params, jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params), 0)
        _, losses = jax.lax.scan(step, state, jax.random.split(key, steps))
        return losses[-1]

    return run


RUNNERS = {"numpyro": numpyro_runner, "jax": jax_runner}


def fresh(impl: str, steps: int = 2000) -> dict[str, float]:
    """A fresh process's first fit: the imports, then the article's 2000 steps at S = 1."""
    wall, cpu = time.perf_counter(), time.process_time()
    import jax

    run = RUNNERS[impl](1)
    imported = (time.perf_counter() - wall, time.process_time() - cpu)
    if impl == "jax":
        run = jax.jit(run, static_argnums=1)
    float(run(jax.random.PRNGKey(0), steps))
    return {"import_wall": imported[0], "import_cpu": imported[1],
            "fit_wall": time.perf_counter() - wall - imported[0], "fit_cpu": time.process_time() - cpu - imported[1]}


def serve(impl: str, samples: int, round_seconds: float) -> None:
    """Compile, calibrate the steps per round, then time one round per ``round`` line on stdin."""
    import jax

    runner = RUNNERS[impl](samples)
    run = jax.jit(runner.jittable() if hasattr(runner, "jittable") else runner, static_argnums=1)
    key = jax.random.PRNGKey(0)
    start = time.process_time()
    float(run(key, 100))  # compile the 100-step probe
    compile_100 = time.process_time() - start
    start = time.process_time()
    float(run(key, 100))
    per_step = max((time.process_time() - start) / 100, 1e-7)
    steps = max(100, min(200_000, int(round_seconds / per_step)))
    start, wall = time.process_time(), time.perf_counter()
    float(run(key, steps))  # compile the round's length (a static argument)
    compile_s = time.process_time() - start
    print("ready " + json.dumps({"steps": steps, "compile_cpu": compile_s, "compile_100_cpu": compile_100,
                                 "compile_wall": time.perf_counter() - wall}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        key, sub = jax.random.split(key)
        wall, cpu = time.perf_counter(), time.process_time()
        float(run(sub, steps))
        print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "steps": steps}),
              flush=True)


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    if spec.get("fresh"):
        print(json.dumps(fresh(spec["impl"], int(spec.get("epochs", 2000)))), flush=True)
    else:
        serve(spec["impl"], int(spec["samples"]), float(spec.get("round_seconds", 0.3)))
