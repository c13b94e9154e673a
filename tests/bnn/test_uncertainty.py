"""The split of a classifier's predictive entropy (bnn.uncertainty) against its definition."""

from __future__ import annotations

import numpy as np
import pytest

from bnn.uncertainty import classification_table, decompose, entropy


def _random_draws(rng: np.random.Generator) -> np.ndarray:
    """(S, N, K) probability draws of random shape, some nearly one-hot, some with exact zeros."""
    s, n, k = rng.integers(1, 30), rng.integers(1, 20), rng.integers(2, 8)
    p = rng.dirichlet(np.full(k, rng.choice([0.05, 1.0, 20.0])), size=(s, n))
    p[rng.random((s, n)) < 0.1] = np.eye(k)[0]  # one-hot rows: 0 log 0 must count as 0
    return p


@pytest.mark.parametrize("seed", range(200))
def test_entropy_is_aleatoric_plus_epistemic_and_epistemic_is_non_negative(seed: int) -> None:
    probs = _random_draws(np.random.default_rng(seed))
    parts = decompose(probs)
    np.testing.assert_array_equal(parts.entropy, parts.aleatoric + parts.epistemic)
    assert (parts.epistemic >= 0).all() and (parts.aleatoric >= 0).all()
    # The total is H of the mean to rounding (clipping the MI at 0 moves it by ulps at most).
    np.testing.assert_allclose(parts.entropy, entropy(probs.mean(axis=0)), rtol=1e-12, atol=1e-14)
    assert (parts.entropy <= np.log(probs.shape[2]) + 1e-12).all()


def test_decomposition_against_a_direct_computation_from_the_draws() -> None:
    rng = np.random.default_rng(7)
    probs = rng.dirichlet([0.5, 1.0, 2.0], size=(40, 6))
    s, n, k = probs.shape
    for i in range(n):  # loops over points, draws and classes: a second, independent computation
        mean = [sum(probs[j, i, c] for j in range(s)) / s for c in range(k)]
        total = -sum(m * np.log(m) for m in mean)
        expected_entropy = sum(-sum(probs[j, i, c] * np.log(probs[j, i, c]) for c in range(k)) for j in range(s)) / s
        # the mutual information as the mean KL(p_s || p̄), another formula than H[p̄] - E[H]
        mutual_information = sum(
            probs[j, i, c] * np.log(probs[j, i, c] / mean[c]) for j in range(s) for c in range(k)) / s
        parts = decompose(probs)
        assert parts.entropy[i] == pytest.approx(total, rel=1e-12)
        assert parts.aleatoric[i] == pytest.approx(expected_entropy, rel=1e-12)
        assert parts.epistemic[i] == pytest.approx(mutual_information, rel=1e-9, abs=1e-14)


def test_agreeing_draws_have_no_epistemic_and_disagreeing_one_hot_draws_no_aleatoric() -> None:
    same = np.tile([[0.2, 0.8]], (10, 1, 1))  # every draw the same: all of it is aleatoric
    parts = decompose(same)
    assert parts.epistemic[0] == pytest.approx(0.0, abs=1e-15)  # the mean of equal numbers rounds
    assert parts.aleatoric[0] == pytest.approx(entropy(np.array([0.2, 0.8])))
    split = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # confident draws that disagree: all epistemic, log 2
    parts = decompose(split)
    assert parts.aleatoric[0] == 0.0 and parts.epistemic[0] == pytest.approx(np.log(2))


def test_classification_table_columns_and_values() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=(500, 4))
    x = rng.normal(size=(4, 2))
    table = classification_table(x, probs, level=0.9)
    assert list(table.columns) == ["x0", "x1", "p0", "p1", "p2", "label", "entropy", "aleatoric", "epistemic",
                                   "p0_lower", "p0_upper", "p1_lower", "p1_upper", "p2_lower", "p2_upper"]
    mean = probs.mean(axis=0)
    np.testing.assert_allclose(table[["p0", "p1", "p2"]].to_numpy(), mean)
    np.testing.assert_allclose(table[["p0", "p1", "p2"]].sum(axis=1), 1.0)
    np.testing.assert_array_equal(table["label"], mean.argmax(axis=1))
    np.testing.assert_allclose(table["p1_lower"], np.percentile(probs[:, :, 1], 5, axis=0))
    np.testing.assert_allclose(table["p2_upper"], np.percentile(probs[:, :, 2], 95, axis=0))
    np.testing.assert_array_equal(table["x1"], x[:, 1])


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="K >= 2"):
        decompose(np.ones((3, 4, 1)))
    with pytest.raises(ValueError, match="inputs"):
        classification_table(np.zeros((2, 1)), np.full((3, 4, 2), 0.5))
