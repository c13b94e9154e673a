"""The 2-D classification toys: shapes, labels, seeds, and what each is meant to look like."""

from __future__ import annotations

import numpy as np
import pytest

from bnn import datasets2d
from bnn.errors import PointsError

CASES = [("moons", {}, 2), ("circles", {}, 2), ("xor", {}, 2), ("spiral", {"arms": 2}, 2),
         ("spiral", {"arms": 3}, 3), ("blobs", {}, 2), ("overlap", {}, 2)]


@pytest.mark.parametrize(("name", "options", "classes"), CASES)
def test_shapes_labels_and_seeded_reproducibility(name: str, options: dict, classes: int) -> None:
    x, labels = datasets2d.make(name, n=101, seed=4, **options)
    assert x.shape == (101, 2) and x.dtype == np.float64 and np.isfinite(x).all()
    assert labels.shape == (101,) and labels.dtype == np.int64
    assert set(labels.tolist()) == set(range(classes))  # every class present, nothing else
    again = datasets2d.make(name, n=101, seed=4, **options)
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(x, datasets2d.make(name, n=101, seed=5, **options)[0])


def test_noise_is_the_jitter() -> None:
    # Noise-free moons lie on their two unit half circles; noise moves them off.
    x, labels = datasets2d.moons(200, noise=0.0)
    centre = np.where(labels[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    np.testing.assert_allclose(np.linalg.norm(x - centre, axis=1), 1.0)
    x, _ = datasets2d.circles(200, noise=0.0, factor=0.4)
    np.testing.assert_allclose(np.sort(np.unique(np.round(np.linalg.norm(x, axis=1), 12))), [0.4, 1.0])
    noisy, _ = datasets2d.moons(200, noise=0.1)
    assert not np.allclose(np.linalg.norm(noisy - centre, axis=1), 1.0)


def test_blobs_leave_a_gap_and_overlap_flips_labels_only_in_its_strip() -> None:
    x, labels = datasets2d.blobs(400, noise=0.3, gap=4.0)
    assert (x[labels == 0, 0] < -0.5).all() and (x[labels == 1, 0] > 0.5).all()  # 5 std from the centres
    x, labels = datasets2d.overlap(2000, width=1.0)
    outside = np.abs(x[:, 0]) >= 1.0
    np.testing.assert_array_equal(labels[outside], x[outside, 0] > 0)
    # In the strip the labels are fair coin flips: ~667 of them, so the share of 1s is 0.5 +- 0.02 (1 sd).
    assert abs(labels[~outside].mean() - 0.5) < 0.08


def test_bad_options_are_refused() -> None:
    with pytest.raises(PointsError, match="unknown data set"):
        datasets2d.make("swirl")
    with pytest.raises(PointsError, match="number of points"):
        datasets2d.moons(1)
    with pytest.raises(PointsError, match="noise"):
        datasets2d.xor(10, noise=-1.0)
    with pytest.raises(PointsError, match="arms"):
        datasets2d.spiral(10, arms=1)
