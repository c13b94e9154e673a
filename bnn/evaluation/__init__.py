"""Judging a predictive distribution: scores on held-out data (:mod:`~bnn.evaluation.metrics`), gap
regions and the gap score (:mod:`~bnn.evaluation.regions`), the posterior's weights against the prior
(:mod:`~bnn.evaluation.weights`), and the UCI benchmark's reader (:mod:`~bnn.evaluation.uci`) and
protocol (:mod:`~bnn.evaluation.uci_protocol`)."""
