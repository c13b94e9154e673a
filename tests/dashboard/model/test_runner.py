"""The server's training slots: a spare one for work worth doing only at once."""

from __future__ import annotations

import threading

from dashboard.model import runner


def test_a_spare_slot_is_taken_only_when_free() -> None:
    slots = threading.BoundedSemaphore(1)
    with runner.spare_slot(slots) as first:
        assert first
        with runner.spare_slot(slots) as second:
            assert not second  # taken: no waiting
    with runner.spare_slot(slots) as again:
        assert again  # released after use


def test_the_work_of_gp_and_full_covariance_vi_grows_as_their_costs_do() -> None:
    from bnn.config import Config
    from dashboard.model.limits import method_work, weight_count

    config = Config()
    # the GP factorises an N x N matrix per optimiser step: twice the points, eight times the work
    assert method_work("gp", {}, config, 200) == 8 * method_work("gp", {}, config, 100)
    # full covariance: P^2 per draw for L eps; a rank-4 factor costs P * 4 instead
    p = weight_count(config)
    full = method_work("fullcov", {"epochs": 10, "rank": None}, config, 6)
    low = method_work("fullcov", {"epochs": 10, "rank": 4}, config, 6)
    assert full - low == 10 * 64 * p * (p - 4)


def test_the_work_of_the_sampler_counts_every_replica_and_iteration() -> None:
    import dataclasses

    from bnn.config import Config
    from bnn.methods.hmc import HMCConfig
    from dashboard.model.limits import LIMITS, method_work

    plain = {"chains": 4, "warmup": 10, "draws": 20, "steps": 5}
    one = method_work("hmc", plain, Config(), 6)
    assert one == 97 * 6 * 4 * (10 + 20) * 5  # weights x points x chains x iterations x leapfrog steps
    # 16 temperatures: 16 replicas a chain; thin 4: four sampling iterations a kept draw
    assert method_work("hmc", {**plain, "temperatures": 16, "thin": 4}, Config(), 6) == 97 * 6 * 64 * (10 + 80) * 5
    # the certified default fits the cap on the article's points and on the gap preset's 20
    assert method_work("hmc", dataclasses.asdict(HMCConfig()), Config(), 20) < LIMITS.method_work
