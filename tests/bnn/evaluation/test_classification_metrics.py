"""The classification scores of bnn.evaluation.classification against hand computations, scipy's
Mann-Whitney U, and seeded samples whose calibration is known by construction."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from bnn.evaluation import classification as m

# Four rows worked by hand. Predicted 0, 1, 0, 1; correct, correct, wrong, correct.
PROBS = np.array([[0.95, 0.05], [0.25, 0.75], [0.65, 0.35], [0.45, 0.55]])
LABELS = np.array([0, 1, 1, 1])


def test_hand_computed_scores() -> None:
    assert m.accuracy(PROBS, LABELS) == 0.75
    nll = -(math.log(0.95) + math.log(0.75) + math.log(0.35) + math.log(0.55)) / 4
    assert m.negative_log_likelihood(PROBS, LABELS) == pytest.approx(nll, rel=1e-12)
    # rows: 2(0.05^2), 2(0.25^2), 2(0.65^2), 2(0.45^2) = 0.005, 0.125, 0.845, 0.405
    assert m.brier_score(PROBS, LABELS) == pytest.approx(1.38 / 4, rel=1e-12)
    np.testing.assert_array_equal(m.confusion_matrix(PROBS, LABELS), [[1, 0], [1, 2]])


def test_hand_computed_ece_and_reliability_table() -> None:
    # 5 bins of width 0.2; confidences 0.95 (bin 4), 0.75 and 0.65 (bin 3), 0.55 (bin 2)
    table = m.reliability_table(PROBS, LABELS, bins=5)
    assert list(table.columns) == ["lower", "upper", "count", "confidence", "accuracy"]
    np.testing.assert_allclose(table["lower"], [0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_array_equal(table["count"], [0, 0, 1, 2, 1])
    np.testing.assert_allclose(table["confidence"][2:], [0.55, 0.70, 0.95])
    np.testing.assert_allclose(table["accuracy"][2:], [1.0, 0.5, 1.0])
    assert table["confidence"][:2].isna().all() and table["accuracy"][:2].isna().all()
    # (1 * |1 - 0.55| + 2 * |0.5 - 0.7| + 1 * |1 - 0.95|) / 4
    assert m.expected_calibration_error(PROBS, LABELS, bins=5) == pytest.approx(0.225, rel=1e-12)
    scores = m.classification_scores(PROBS, LABELS, bins=5)
    assert scores.to_dict() == pytest.approx({"n": 4, "accuracy": 0.75, "nll": scores.nll, "brier": 0.345,
                                              "ece": 0.225, "bins": 5})


def test_bin_edges_belong_to_the_lower_bin() -> None:
    # Guo et al.'s bins are ((m-1)/M, m/M]: a confidence of exactly 0.6 with 5 bins is in (0.4, 0.6]
    table = m.reliability_table([[0.6, 0.4], [1.0, 0.0]], [0, 0], bins=5)
    np.testing.assert_array_equal(table["count"], [0, 0, 1, 0, 1])


def test_certain_correct_predictions_score_zero() -> None:
    labels = np.array([0, 2, 1, 2])
    onehot = np.eye(3)[labels]
    assert m.negative_log_likelihood(onehot, labels) == 0.0
    assert m.brier_score(onehot, labels) == 0.0
    assert m.expected_calibration_error(onehot, labels) == 0.0
    assert m.accuracy(onehot, labels) == 1.0
    np.testing.assert_array_equal(m.confusion_matrix(onehot, labels), np.diag([1, 1, 2]))


def test_certain_wrong_prediction_is_clipped_at_the_floor() -> None:
    probs, labels = np.array([[1.0, 0.0]]), np.array([1])
    assert m.negative_log_likelihood(probs, labels) == pytest.approx(-math.log(m.PROBABILITY_FLOOR))
    assert m.brier_score(probs, labels) == 2.0


def _calibrated_sample(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows p ~ Dirichlet(1/2, ...) and labels drawn from them: calibrated by construction."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.5), size=n)
    labels = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    return probs, np.minimum(labels, k - 1)


@pytest.mark.parametrize("k", [2, 4])
def test_ece_of_a_calibrated_sample_is_near_zero(k: int) -> None:
    probs, labels = _calibrated_sample(20_000, k, seed=k)
    # Given the probabilities, bin m's acc - conf is a mean of n_m independent centred Bernoulli
    # terms, std <= 0.5 / sqrt(n_m), so E|.| <= 0.4 / sqrt(n_m) and E[ECE] <= 0.4 sum_m sqrt(n_m) / N
    # <= 0.4 sqrt(M / N) = 0.011 (Cauchy-Schwarz); 0.03 leaves room for the sum's own spread.
    assert m.expected_calibration_error(probs, labels) < 0.03
    # the same labels under over-confident probabilities (temperature 1/3) are far off
    sharp = probs**3 / np.sum(probs**3, axis=1, keepdims=True)
    assert m.expected_calibration_error(sharp, labels) > 0.08


def test_ece_of_an_overconfident_sample() -> None:
    # true top-label probability 0.7 everywhere, reported as 0.95: ECE = 0.95 - acc, acc ~ 0.7 +- 0.005
    rng = np.random.default_rng(7)
    labels = (rng.random(10_000) > 0.7).astype(np.int64)  # class 0 with probability 0.7
    probs = np.tile([0.95, 0.05], (10_000, 1))
    assert m.expected_calibration_error(probs, labels) == pytest.approx(0.25, abs=0.02)  # 4 binomial SEs


def test_auroc_by_hand() -> None:
    assert m.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert m.auroc([1.0, 1.0, 2.0], [False, True, True]) == 0.75  # the tie counts one half
    assert m.auroc([1, 2, 3], [0, 1, 1]) == 1.0
    assert m.auroc([3, 2, 1], [0, 1, 1]) == 0.0
    assert m.auroc([5, 5, 5, 5], [0, 1, 0, 1]) == 0.5


@pytest.mark.parametrize("seed", range(5))
def test_auroc_is_mann_whitney_u_over_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    scores = rng.integers(0, 8, n).astype(float)  # few distinct values: many ties
    positive = rng.random(n) < 0.3
    positive[:2] = [True, False]
    u = mannwhitneyu(scores[positive], scores[~positive]).statistic
    expected = u / (positive.sum() * (~positive).sum())
    assert m.auroc(scores, positive) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("probs", "labels", "phrase"), [
    (np.array([0.5, 0.5]), [0], "must be (N, K)"),
    (np.ones((2, 1)), [0, 0], "must be (N, K)"),
    (np.zeros((0, 2)), [], "must be (N, K)"),
    ([[0.5, 0.6]], [0], "sum to 1"),
    ([[1.5, -0.5]], [0], "in [0, 1]"),
    ([[np.nan, 1.0]], [0], "finite"),
    (PROBS, [0, 1, 1], "labels must be (N,)"),
    (PROBS, [[0], [1], [1], [1]], "labels must be (N,)"),
    (PROBS, [0, 1, 2, 1], "in 0..1"),
    (PROBS, [0, 1, 0.5, 1], "whole numbers"),
    (PROBS, [0, -1, 0, 1], "in 0..1"),
    (PROBS, ["a", "b", "a", "b"], "whole numbers"),
])
def test_bad_inputs_raise_clear_errors(probs: object, labels: object, phrase: str) -> None:
    for score in (m.accuracy, m.negative_log_likelihood, m.brier_score, m.expected_calibration_error,
                  m.confusion_matrix, m.classification_scores):
        with pytest.raises(ValueError, match=re.escape(phrase)):
            score(probs, labels)


def test_bad_bins_and_auroc_inputs() -> None:
    for bins in (0, 1.5, True):
        with pytest.raises(ValueError, match="bins"):
            m.expected_calibration_error(PROBS, LABELS, bins=bins)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive and negative rows"):
        m.auroc([1, 2], [1, 1])
    with pytest.raises(ValueError, match="one length"):
        m.auroc([1, 2, 3], [1, 0])
    with pytest.raises(ValueError, match="booleans"):
        m.auroc([1, 2], [2, 0])
    with pytest.raises(ValueError, match="finite"):
        m.auroc([1, np.inf], [1, 0])
