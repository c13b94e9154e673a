"""Scores of a classifier's predictive probabilities on held-out labels, and AUROC for OOD detection.

Every function takes the predictive class probabilities ``probs`` (N, K), each row a
distribution (for a Bayesian net, the mean over weight draws: the ``p0..p{K-1}`` columns of
:func:`bnn.predict`), and the true labels (N,) in 0..K-1. The predicted label is the argmax
(the first class on a tie), its probability the top-label confidence.

- ``accuracy``: the share of rows whose predicted label is the true one;
- ``negative_log_likelihood``: mean_i -log p_i[y_i], each probability clipped below at
  ``PROBABILITY_FLOOR`` (1e-12, so one confidently wrong row costs at most 27.6 nats
  instead of infinity);
- ``brier_score``: mean_i sum_k (p_ik - onehot(y_i)_k)^2 (Brier 1950), in [0, 2];
- ``expected_calibration_error``: Guo et al. 2017, "On Calibration of Modern Neural
  Networks", eq. 3. The top-label confidences are put in M equal-width bins
  B_m = ((m-1)/M, m/M] (default M = 15, as there), and

      ECE = sum_m (|B_m| / N) |acc(B_m) - conf(B_m)|,

  acc the share of correct rows and conf the mean confidence in the bin; ``reliability_table``
  lists the bins (the reliability diagram as a table);
- ``auroc``: the area under the ROC curve of a score (higher = more likely positive, e.g.
  epistemic uncertainty with out-of-distribution rows as positives), by ranks with ties given
  their average rank, i.e. the Mann-Whitney U / (n_pos n_neg) (Hanley & McNeil 1982): the
  probability that a random positive scores above a random negative, ties counting one half;
- ``confusion_matrix``: counts (K, K), rows the true class, columns the predicted one.

``classification_scores`` gathers the scalar ones for callers (the CLI, the dashboard). Bad
shapes or values raise ``ValueError`` with a message that names them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import rankdata

PROBABILITY_FLOOR = 1e-12  # NLL clip: -log(1e-12) = 27.6 nats at most per row
DEFAULT_BINS = 15  # Guo et al. 2017's M
_SUM_TOLERANCE = 1e-6  # rows of float32 softmax sum to 1 within ~1e-7 per class


@dataclass(frozen=True)
class ClassificationScores:
    """The scalar scores of one prediction on one labelled set."""

    n: int
    accuracy: float
    nll: float  # mean -log p(true label), clipped at PROBABILITY_FLOOR
    brier: float  # mean sum_k (p_k - onehot_k)^2
    ece: float  # expected calibration error, `bins` equal-width bins of top-label confidence
    bins: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def classification_scores(probs: ArrayLike, labels: ArrayLike, bins: int = DEFAULT_BINS) -> ClassificationScores:
    """Accuracy, NLL, Brier score and ECE of ``probs`` (N, K) against ``labels`` (N,)."""
    p, y = check_probabilities(probs, labels)
    return ClassificationScores(n=len(y), accuracy=accuracy(p, y), nll=negative_log_likelihood(p, y),
                                brier=brier_score(p, y), ece=expected_calibration_error(p, y, bins), bins=bins)


def accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    """The share of rows whose argmax is the true label."""
    p, y = check_probabilities(probs, labels)
    return float(np.mean(p.argmax(axis=1) == y))


def negative_log_likelihood(probs: ArrayLike, labels: ArrayLike, floor: float = PROBABILITY_FLOOR) -> float:
    """mean_i -log max(p_i[y_i], floor), in nats."""
    if not 0 < floor < 1:
        raise ValueError(f"floor must be in (0, 1), got {floor!r}")
    p, y = check_probabilities(probs, labels)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], floor))))


def brier_score(probs: ArrayLike, labels: ArrayLike) -> float:
    """mean_i sum_k (p_ik - [k = y_i])^2: 0 for certain correct rows, 2 for certain wrong ones."""
    p, y = check_probabilities(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def reliability_table(probs: ArrayLike, labels: ArrayLike, bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """One row per equal-width confidence bin ((lower, upper], the first also holding 0): ``lower``,
    ``upper``, ``count``, ``confidence`` (mean top-label confidence) and ``accuracy`` (share correct);
    the last two NaN in an empty bin. Plotting accuracy against confidence is the reliability diagram."""
    p, y = check_probabilities(probs, labels)
    _check_bins(bins)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin m (0-based) holds edges[m] < c <= edges[m + 1], against the very edges the table reports
    # (ceil(c M) would put 0.6 in (0.6, 0.8] with M = 5, since 0.6 * 5 rounds to 3.0000000000000004)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins: NaN, on purpose
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
        mean_accuracy = np.bincount(index, weights=correct, minlength=bins) / count
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count,
                         "confidence": mean_confidence, "accuracy": mean_accuracy})


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, bins: int = DEFAULT_BINS) -> float:
    """sum_m (|B_m| / N) |acc(B_m) - conf(B_m)| over ``bins`` equal-width bins (Guo et al. 2017)."""
    table = reliability_table(probs, labels, bins)
    full = table[table["count"] > 0]
    gaps = np.abs(full["accuracy"] - full["confidence"]).to_numpy()
    return float(np.sum(full["count"].to_numpy() * gaps) / table["count"].sum())


def auroc(scores: ArrayLike, positive: ArrayLike) -> float:
    """The area under the ROC curve of ``scores`` (N,) for telling ``positive`` rows (N,) bool, e.g.
    out-of-distribution, from the others: (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg), R_pos the
    sum of the positives' ranks with tied scores given their average rank (the Mann-Whitney U)."""
    s = np.asarray(scores, dtype=np.float64)
    is_pos = np.asarray(positive)
    if s.ndim != 1 or is_pos.shape != s.shape:
        raise ValueError(f"scores and positive must be two arrays (N,) of one length, got shapes "
                         f"{s.shape} and {is_pos.shape}")
    if is_pos.dtype != bool:
        if not np.isin(is_pos, (0, 1)).all():
            raise ValueError("positive must hold booleans (or 0/1)")
        is_pos = is_pos.astype(bool)
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    n_pos = int(is_pos.sum())
    n_neg = len(s) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUROC needs positive and negative rows, got {n_pos} positive and {n_neg} negative")
    ranks = rankdata(s, method="average")
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion_matrix(probs: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """Counts (K, K) int64: entry [i, j] is the number of rows of true class i predicted as j."""
    p, y = check_probabilities(probs, labels)
    k = p.shape[1]
    return np.bincount(y * k + p.argmax(axis=1), minlength=k * k).reshape(k, k)


def check_probabilities(probs: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``probs`` as float64 (N, K), K >= 2, rows distributions (sums within 1e-6 of 1), and ``labels``
    as int64 (N,) in 0..K-1 (whole-valued floats accepted); ValueError otherwise."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"probs must be (N, K) with N >= 1 rows and K >= 2 classes, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probs must be finite numbers in [0, 1]")
    sums = p.sum(axis=1)
    if (np.abs(sums - 1) > _SUM_TOLERANCE).any():
        row = int(np.argmax(np.abs(sums - 1) > _SUM_TOLERANCE))
        raise ValueError(f"each row of probs must sum to 1; row {row} sums to {sums[row]:.9g}")
    y = np.asarray(labels)
    if y.shape != (p.shape[0],):
        raise ValueError(f"labels must be (N,) = ({p.shape[0]},) to match probs, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise ValueError(f"labels must be whole numbers 0..K-1, got dtype {y.dtype}")
    if not np.isfinite(y).all() or (y != np.round(y)).any() or (y < 0).any() or (y >= p.shape[1]).any():
        raise ValueError(f"labels must be whole numbers in 0..{p.shape[1] - 1} for K = {p.shape[1]} classes")
    return p, y.astype(np.int64)


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 10_000:
        raise ValueError(f"bins must be a whole number in [1, 10000], got {bins!r}")
