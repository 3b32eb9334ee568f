"""The typed numbers of a plan (``readout plan NAME``): what ``plan.json`` holds.

:func:`analyses.ab_test.plan.plan` computes the numbers (:class:`PlanNumbers`);
``readout.plan`` adds the experiment, its metric, the history read and the SQL, making the
whole a :class:`Plan`, which the plan's wording (``readout.wording.plan``) and page read.
"""

from __future__ import annotations

from typing import Literal

from analyses.core.results import MISSING, Prob, Record


class PlanBaseline(Record):
    """The metric's recent history and the traffic (:class:`analyses.ab_test.plan.Baseline`)."""

    kind: Literal["binary", "mean"]
    mean: float
    sd: float
    units: float
    units_per_day: float
    arms: int
    window_days: float
    higher_is_better: bool


class PlanThresholds(Record):
    """The experiment's decision thresholds, as the config set them."""

    min_prob_better: float
    max_expected_loss: float
    rope: float | None


class Target(Record):
    """The shortest planned length reaching a target chance of a clear answer."""

    target: Prob
    #: ``None``: beyond ``max_days``.
    days: int | None
    units_exposed: float | None
    units_counted: float | None
    prob: Prob
    #: The Monte Carlo standard error of ``prob``.
    mc_se: float


class CurvePoint(Record):
    """The chance of a clear answer at one planned length."""

    days: int
    prob: Prob


class RulePlan(Record):
    """One rule's plan: its targets, its curve, and (sequential) its end's threshold."""

    targets: tuple[Target, ...]
    curve: tuple[CurvePoint, ...]
    end_threshold: Prob | MISSING = MISSING


class PlanRules(Record):
    """The plan under each rule."""

    fixed: RulePlan
    sequential: RulePlan


class PlanMetric(Record):
    """The primary metric as the config names it."""

    name: str
    label: str
    kind: str
    higher_is_better: bool
    window_days: float
    covariate_days: float | None
    prefix: str
    suffix: str


class PlanHistory(Record):
    """The history the baseline was read from."""

    start: str
    end: str
    days: int
    units: float
    exposure_days: float
    arms: tuple[str, ...]
    baseline_from: Literal["control", "all"]
    units_measured: float


class PlanNumbers(Record):
    """What :func:`analyses.ab_test.plan.plan` computes: the planned lengths and chances."""

    baseline: PlanBaseline
    min_effect: float
    decision: PlanThresholds
    ci_prob: Prob
    simulations: int
    seed: int
    max_days: int
    rules: PlanRules
    #: The sequential rule's length for the first target (``None``: beyond ``max_days``).
    planned_days: int | None


class Plan(PlanNumbers):
    """A plan: how many days an A/B test needs, with what it was made from."""

    experiment: str
    title: str
    metric: PlanMetric
    min_effect_from: Literal["option", "rope", "default"]
    history: PlanHistory
    unit_label: str
    source: str
    sql: str
    created_at: str
