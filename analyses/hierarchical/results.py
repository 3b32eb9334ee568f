"""The typed results of a hierarchical readout: units, groups, spreads, baselines, verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import MISSING, Field

from analyses.core.results import (
    Decision,
    Diagnostics,
    Estimate,
    Exposures,
    Interval,
    LeftOut,
    Prob,
    Record,
    Results,
    Signed,
    Summary,
    bundle_model,
)

#: A group's verdict: where to roll out.
#: Where to roll out: ``mixed`` when the group's average is clear but a new unit in it may
#: well go the other way (:func:`analyses.hierarchical.decide.group_where`).
GroupVerdict = Literal["positive", "negative", "unclear", "mixed"]


class GridDiagnostics(Diagnostics):
    """The exact posterior: the grid it was integrated on and the mass at its edge."""

    grid_points: int | MISSING = MISSING
    edge_mass: float | MISSING = MISSING


class Unit(Record):
    """A unit the report names: its own estimate, the pooled one, and why it is named."""

    unit: str
    group: str
    #: Its users, where known.
    n: int | None
    raw_estimate: float
    raw_se: float = Field(gt=0)
    mean: float
    hdi: Interval
    prob_positive: Prob
    #: How far it was pulled toward its group's average (0: not at all, 1: all the way).
    shrinkage: Prob
    group_mean: float | MISSING = MISSING
    roles: tuple[str, ...] | MISSING = MISSING


class Group(Signed):
    """A group's average effect, a new unit's in it, and the complete-pooling estimate."""

    group: str
    units: int | MISSING = MISSING
    users: int | None | MISSING = MISSING
    new_unit: Estimate
    complete_pooling: Summary | MISSING = MISSING


class Hyper(Record):
    """The overall average and the spreads between groups and between units."""

    mu: Estimate
    sigma_group: Estimate | MISSING = MISSING
    sigma_unit: Estimate


class PoolingPrior(Record):
    """The priors, scaled to the units' estimates."""

    mu_mean: float
    mu_sd: float
    sigma_scale: float


class Counts(Record):
    """How many units have strong evidence of a positive, or a negative, effect."""

    threshold: Prob
    positive: int
    negative: int


class Width(Record):
    """The average width of the units' intervals under one approach."""

    mean_width: float


class Baselines(Record):
    """What pooling buys: interval widths without pooling, with complete pooling, partial."""

    no_pooling: Width
    complete_pooling: Width
    partial_pooling: Width | MISSING = MISSING


class SizeBucket(Record):
    """Median shrinkage of the units of one size."""

    bucket: str
    units: int
    median_shrinkage: Prob


class HierarchicalResults(Results):
    """The results a hierarchical readout adds to its bundle."""

    unit_label: str
    group_label: str
    grouped: bool
    n_units: int = Field(ge=3)
    plotted_units: int | MISSING = MISSING
    n_users: int | None | MISSING = MISSING
    prior: PoolingPrior | MISSING = MISSING
    prior_influence: float | None | MISSING = MISSING
    #: The average effect over these units, and a new unit's predictive.
    average: Signed
    new_unit: Signed
    units: tuple[Unit, ...]
    groups: tuple[Group, ...] = Field(min_length=1)
    hyper: Hyper
    counts: Counts | MISSING = MISSING
    baselines: Baselines
    shrinkage_by_size: tuple[SizeBucket, ...] | MISSING = MISSING
    #: From a warehouse: the units and events its query left out (a health check).
    excluded: LeftOut | MISSING = MISSING
    #: From a warehouse: the users exposed to more than one arm, left out (a health check).
    exposures: Exposures | MISSING = MISSING


class HierarchicalDecision(Decision):
    """Positive, negative or unclear from the average's interval; each group's beside it."""

    verdict: Literal["positive", "negative", "unclear", "withheld"]
    average_hdi: Interval
    prob_positive: Prob
    groups: dict[str, GroupVerdict]
    #: A withheld verdict: the checks that failed.
    failed_checks: tuple[Literal["exposures", "excluded", "diagnostics"], ...] | MISSING = MISSING
    #: A clear verdict: whether the population average is clear on the same side too.
    population_clear: bool | MISSING = MISSING


HierarchicalBundle = bundle_model(
    "hierarchical", HierarchicalResults, HierarchicalDecision, GridDiagnostics
)
