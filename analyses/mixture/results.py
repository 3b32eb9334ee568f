"""The typed results of a mixture readout: the components, the counts compared, the verdict.

``fit`` builds them directly (:mod:`analyses.mixture.fit`); the schema comes from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import MISSING, Field

from analyses.core.results import (
    Decision,
    Diagnostics,
    Prob,
    Record,
    Results,
    Summary,
    bundle_model,
)


class Component(Record):
    """One sub-population: its weight, mean and spread."""

    component: int
    label: str | None
    weight: Summary
    mean: Summary
    sd: Summary


class CountCompared(Record):
    """One component count by PSIS-LOO, as ArviZ's ``compare`` lists it."""

    components: int
    elpd: float
    se: float
    elpd_diff: float
    dse: float
    #: PSIS-LOO on a subsample of the values: the standard error that adds to ``dse``.
    subsampling_dse: float | MISSING = MISSING
    p_loo: float
    weight: Prob
    diagnostics: tuple[str, ...]


class Redundant(Record):
    """A component count left unfitted.

    AIC's ELPD gain over a smaller count is within the margin PSIS-LOO would need.
    """

    components: int
    compared_with: int
    log_lik_gain: float
    parameters_added: int
    elpd_aic_gain: float
    margin: float


class SubsampledLikelihood(Record):
    """The importance weights read a log-likelihood estimated from ``rows`` of ``of`` values.

    Checked against the exact one at ``checked_draws`` draws: the largest error (log scale)
    and what it does to a weight, and the largest standard error, within ``limit``.
    """

    rows: int
    of: int
    checked_draws: int
    error_max: float
    weight_error_max: float
    se_max: float
    limit: float


class Subsampling(Record):
    """What was computed from a subset of the values, and the error it adds."""

    likelihood: SubsampledLikelihood | None
    loo_rows: int | None
    loo_dse_max: float | None


class Assignment(Record):
    """How confidently the values belong to one component."""

    threshold: Prob
    confident: int
    ambiguous: int
    per_component: tuple[int, ...]


class Observed(Record):
    """The values as observed."""

    min: float
    max: float
    mean: float
    sd: float


class MixturePrior(Record):
    """The priors, scaled to the data."""

    mu_mean: float
    mu_sd: float
    sigma_scale: float


class MixtureResults(Results):
    """The results a mixture readout adds to its bundle."""

    value_label: str
    unit_label: str
    n: int
    prior: MixturePrior
    chosen_components: int = Field(ge=1)
    components: tuple[Component, ...] = Field(min_length=1)
    comparison: tuple[CountCompared, ...]
    #: Counts judged redundant and not fitted; ``MISSING`` in readouts before that rule.
    redundant: tuple[Redundant, ...] | MISSING = MISSING
    #: ``None``: every value was read.
    subsampled: Subsampling | None | MISSING = MISSING
    label_switching: bool
    assignment: Assignment
    observed: Observed


class MixtureDecision(Decision):
    """The component count chosen, out of the largest tried."""

    verdict: Literal["mixture", "withheld"]
    components: int
    largest_tried: int


MixtureBundle = bundle_model("mixture", MixtureResults, MixtureDecision, Diagnostics)
