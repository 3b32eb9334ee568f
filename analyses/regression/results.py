"""The typed results of a regression readout: coefficients, predictions, the predictive check."""

from __future__ import annotations

from typing import Literal

from pydantic import MISSING

from analyses.core.results import (
    Decision,
    Diagnostics,
    Interval,
    Prob,
    Record,
    Results,
    Summary,
    bundle_model,
)


class Step(Record):
    """A feature's interquartile step: from its 25th to its 75th percentile in the data."""

    low: float
    high: float
    size: float


class Coefficient(Summary):
    """A feature's association with the target, per unit and per interquartile step."""

    name: str
    label: str
    prob_positive: Prob
    step: Step
    per_step: Summary


class Prediction(Summary):
    """A new row's expected target, and where a new measurement of it would fall."""

    row: str
    observation_hdi: Interval | MISSING = MISSING
    features: dict[str, float]


class Check(Record):
    """The posterior-predictive check: the data's mean and spread beside replicated data's."""

    observed_mean: float
    observed_sd: float
    replicated_mean: Summary
    replicated_sd: Summary
    residual_sd: float


class RegressionPrior(Record):
    """Weakly informative priors on the standardised scale."""

    intercept_mean: float
    intercept_sd: float
    beta_sd: float
    sigma_scale: float


class RegressionResults(Results):
    """The results a regression readout adds to its bundle."""

    target_label: str
    n: int
    #: ``count`` (binomial shares), ``error`` (known standard errors) or ``plain``.
    likelihood: Literal["count", "error", "plain"]
    error_source: Literal["target_error", "count"] | None
    prior: RegressionPrior
    coefficients: tuple[Coefficient, ...]
    #: The chance of a sign a feature needs to count as clearly moving the target.
    evidence_threshold: Prob
    intercept: Summary
    #: The noise's spread (``None`` for binomial shares, which have none of their own).
    sigma: Summary | None
    ppc: Check
    predictions: tuple[Prediction, ...]


class RegressionDecision(Decision):
    """Which features clearly move the target (unless a check failed)."""

    verdict: Literal["fitted", "withheld"]
    clear_features: tuple[str, ...]
    threshold: Prob


RegressionBundle = bundle_model("regression", RegressionResults, RegressionDecision, Diagnostics)
