"""Predictive uncertainty of a classifier from posterior draws: total = aleatoric + epistemic.

For S draws of class probabilities p_s(x) (from S weight samples, ensemble members, a
sampler's states...), the posterior predictive is their mean p̄ = mean_s p_s, and its entropy
splits in two (Houlsby et al. 2011, "Bayesian Active Learning by Disagreement"; Depeweg et al.
2018; Smith & Gal 2018):

    H[p̄]  =  mean_s H[p_s]  +  ( H[p̄] - mean_s H[p_s] )
    total =  aleatoric      +  epistemic

The aleatoric part is the entropy every draw agrees on (classes that overlap in the data);
the epistemic part is the mutual information I(y; w | x) between the label and the weights,
which is >= 0 by the concavity of entropy (Jensen), and vanishes when all draws agree. All in
nats. These functions take plain arrays (S, N, K), so that every inference method can reuse
them; :func:`classification_table` is the prediction table of a classifier.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import entr


class Decomposition(NamedTuple):
    """Per-input uncertainties in nats, each (N,); entropy = aleatoric + epistemic exactly."""

    entropy: np.ndarray  # H[mean_s p_s], the total predictive entropy
    aleatoric: np.ndarray  # mean_s H[p_s], the expected entropy
    epistemic: np.ndarray  # the mutual information between the label and the weights, >= 0


def entropy(p: np.ndarray) -> np.ndarray:
    """-sum_k p_k log p_k over the last axis, with 0 log 0 = 0: (..., K) -> (...)."""
    return entr(np.asarray(p, dtype=np.float64)).sum(axis=-1)


def decompose(probs: np.ndarray) -> Decomposition:
    """The split of the predictive entropy of draws ``probs`` (S, N, K), each row a distribution.

    The mutual information is computed as H[p̄] - E[H], which rounding can push a few ulps below
    zero when the draws agree; it is clipped at 0 and the total is then aleatoric + epistemic, so
    the identity holds exactly in the returned numbers (the total differs from a direct H[p̄] by
    rounding only).
    """
    probs = _checked(probs)
    aleatoric = entropy(probs).mean(axis=0)
    epistemic = np.maximum(entropy(probs.mean(axis=0)) - aleatoric, 0.0)
    return Decomposition(aleatoric + epistemic, aleatoric, epistemic)


def probability_columns(classes: int) -> list[str]:
    """'p0'..'p{K-1}'."""
    return [f"p{k}" for k in range(classes)]


def classification_table(x: np.ndarray, probs: np.ndarray, level: float = 0.95,
                         names: list[str] | None = None) -> pd.DataFrame:
    """One row per input: the inputs x (N, D) under ``names``; ``p0..p{K-1}``, the mean class
    probabilities over the draws ``probs`` (S, N, K); ``label``, their argmax; ``entropy``,
    ``aleatoric`` and ``epistemic`` (:func:`decompose`); ``p{k}_lower`` and ``p{k}_upper``, the
    central ``level`` interval of each class probability across the draws."""
    probs = _checked(probs)
    if probs.shape[1] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} inputs but draws for {probs.shape[1]}")
    columns = names or (["x"] if x.shape[1] == 1 else [f"x{i}" for i in range(x.shape[1])])
    mean = probs.mean(axis=0)  # (N, K)
    parts = decompose(probs)
    tail = 100 * (1 - level) / 2
    lower, upper = np.percentile(probs, [tail, 100 - tail], axis=0)  # each (N, K)
    data: dict[str, np.ndarray] = {name: x[:, i] for i, name in enumerate(columns)}
    data.update({name: mean[:, k] for k, name in enumerate(probability_columns(probs.shape[2]))})
    data["label"] = mean.argmax(axis=1)
    data.update(entropy=parts.entropy, aleatoric=parts.aleatoric, epistemic=parts.epistemic)
    for k in range(probs.shape[2]):
        data[f"p{k}_lower"], data[f"p{k}_upper"] = lower[:, k], upper[:, k]
    return pd.DataFrame(data)


def _checked(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[2] < 2:
        raise ValueError(f"class probability draws must be (S, N, K) with K >= 2, got shape {probs.shape}")
    return probs
