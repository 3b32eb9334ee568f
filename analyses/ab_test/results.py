"""The typed results of an A/B readout: arms, comparisons, metrics, checks, segments, verdict.

The bundle's A/B part, one frozen model per shape (:mod:`analyses.core.results`); its JSON
Schema is generated from them. Fields an older readout did not write yet are optional
(``MISSING``), so every readout ever written still validates and renders.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import MISSING, Field

from analyses.ab_test.programme_results import ProgrammeLift, ProgrammePrior
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
    Summary,
    bundle_model,
)

#: Every verdict an A/B readout can reach: randomised, observational, A/A.
Verdict = Literal[
    "ship",
    "keep_control",
    "keep_collecting",
    "no_difference",
    "withheld",
    "higher",
    "lower",
    "unclear",
    "aa_passed",
    "aa_failed",
    "no_clear_difference",
]
#: How a metric reads: the verdict of the primary, the status of the others.
Status = Literal[
    "ship",
    "keep_control",
    "keep_collecting",
    "no_difference",
    "higher",
    "lower",
    "unclear",
    "better",
    "worse",
    "harm",
    "ok",
    "no_clear_difference",
]
Kind = Literal["binary", "continuous", "count", "log", "lognormal", "revenue", "ratio", "quantile"]


class Test(Record):
    """The traditional test of a treatment against the control, with its 95% interval."""

    test: str
    #: ``None`` where it is infinite (no spread at all and different means).
    statistic: float | None
    p_value: Prob
    estimate: float
    ci: Interval
    ci_prob: float
    #: ``absolute`` (the difference), ``log`` (of the logs) or ``relative`` (the difference
    #: over the control's value: a quantile metric's, as GrowthBook tests it).
    scale: Literal["absolute", "log", "relative"] | MISSING = MISSING


class HeadlineTest(Test):
    """The traditional test of the headline comparison."""

    arm: str
    vs: str


class Arm(Record):
    """One arm's value of a metric."""

    name: str
    n: int = Field(ge=1)
    #: The value computed from the data alone.
    observed: float
    mean: float
    hdi: Interval
    #: With more than two arms: the chance this arm is the best.
    prob_best: Prob | MISSING = MISSING


class Comparison(Record):
    """A treatment against the control, in the metric's good direction."""

    arm: str
    vs: str
    prob_better: Prob
    expected_loss: float = Field(ge=0)
    #: Relative to the control's value (infinite when the control's mean is 0).
    expected_loss_rel: float
    lift_abs: Summary
    #: ``None`` where a relative lift is not defined (a control at 0).
    lift_rel: Summary | None
    #: Of the logs (``log_transform``).
    lift_log: Summary | MISSING = MISSING
    #: With a ROPE: the chance the lift beats it, and that it lies inside it.
    prob_meaningful: Prob | MISSING = MISSING
    prob_in_rope: Prob | MISSING = MISSING
    #: A guardrail: the chance of harm beyond its tolerance.
    prob_harm: Prob | MISSING = MISSING
    frequentist: Test | MISSING = MISSING
    #: A primary comparison given the programme's learned prior (``[programme]``).
    programme: ProgrammeLift | MISSING = MISSING


class BetaPrior(Record):
    """A conversion rate's Beta prior."""

    kind: Literal["beta"]
    alpha: float
    beta: float


class NormalPrior(Record):
    """A mean's normal-inverse-gamma prior (on the log scale for ``scale = "log"``)."""

    kind: Literal["normal"]
    scale: Literal["log"] | MISSING = MISSING
    mu_mean: float
    mu_sd: float
    sigma: float | None
    kappa: float
    alpha: float
    beta: float


class DeltaPrior(Record):
    """A ratio: the delta method, no prior."""

    kind: Literal["delta"]


class StudentTPrior(Record):
    """The Student-t model's priors, scaled to the data."""

    kind: Literal["studentt"]
    mu_mean: float
    mu_sd: float
    sigma_sd: float
    nu_rate: float


class BootstrapPrior(Record):
    """A quantile: the Bayesian bootstrap over the units (flat Dirichlet weights), no prior."""

    kind: Literal["bootstrap"]


Prior = Annotated[
    BetaPrior | NormalPrior | DeltaPrior | StudentTPrior | BootstrapPrior,
    Field(discriminator="kind"),
]


class Part(Record):
    """One part of revenue per unit (who paid, or what payers spent) in both arms."""

    control: Summary
    treatment: Summary
    lift_rel: Summary
    prob_higher: Prob


class RevenueParts(Record):
    """Revenue's two parts compared for one treatment."""

    arm: str
    vs: str
    paying: Part
    per_payer: Part


class UserPrior(Record):
    """A user-set prior on the relative lift (``prior_mean``, ``prior_sd``), issue 27.

    Normal on ``log(1 + lift)`` with mean ``log_mean`` and sd ``log_sd``; ``applied`` is
    false where a relative lift is not defined (the metric is read without it).
    """

    mean: float = Field(gt=-1)
    sd: float = Field(gt=0)
    log_mean: float
    log_sd: float = Field(gt=0)
    applied: bool


class PostStratified(Record):
    """Post-stratification on a segment column: what it is worth (issue 27).

    ``applied``: the arms' values are the post-stratified means (else CUPED was used, and
    this says what post-stratifying instead would have been worth).
    """

    segment: str
    strata: int = Field(ge=1)
    variance_reduction: Prob
    applied: bool


class Metric(Record):
    """One metric of the experiment: its arms, comparisons, prior and status."""

    name: str
    label: str
    role: Literal["primary", "secondary", "guardrail"]
    kind: Kind
    higher_is_better: bool
    tolerated_harm: float
    value_prefix: str
    value_suffix: str
    method: str
    arms: tuple[Arm, ...] = Field(min_length=2)
    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    prior: Prior
    #: How much the prior narrows the arms' values (near 0: the data decide).
    prior_influence: float | None
    status: Status
    #: Units exposed whose window has not closed by the readout's cut-off: not counted yet.
    waiting: int | MISSING = Field(MISSING, ge=0)
    #: The metric's window in days (a unit counts once it has closed).
    window_days: float | MISSING = MISSING
    #: CUPED: the share of variance the covariate removed, its slope, the plain comparisons.
    variance_reduction: Prob | MISSING = MISSING
    covariate_slope: float | MISSING = MISSING
    unadjusted: tuple[Comparison, ...] | MISSING = MISSING
    parts: tuple[RevenueParts, ...] | MISSING = MISSING
    #: A user-set prior on the lift, and the comparisons without it (the experiment alone).
    user_prior: UserPrior | MISSING = MISSING
    without_prior: tuple[Comparison, ...] | MISSING = MISSING
    #: Post-stratification on a segment (``post_stratify``).
    post_stratified: PostStratified | MISSING = MISSING
    #: A quantile metric's level (0.9: the arms' 90th percentiles of their units' values).
    quantile: Prob | MISSING = MISSING


class SampleRatio(Record):
    """The sample-ratio check, with how many units each arm lacks against the plan."""

    p_value: Prob | None
    ok: bool
    applicable: bool | MISSING = MISSING
    alpha: float | MISSING = MISSING
    observed: tuple[int, ...] | MISSING = MISSING
    expected: tuple[float, ...] | MISSING = MISSING
    expected_split: tuple[float, ...] | MISSING = MISSING
    missing: tuple[int, ...] | MISSING = MISSING
    #: A conversion metric: the lift if the missing units had all converted, or none.
    worst_case_lift: Interval | MISSING = MISSING


class Horizon(Record):
    """The chance of each verdict after some more days of the same traffic."""

    days: int
    units: float
    prob_decision: Prob
    verdicts: dict[str, Prob]


class Forecast(Record):
    """Days to a decision, at the exposure rate in the data."""

    units_per_day: float = Field(gt=0)
    days: float
    first: float
    last: float
    horizons: tuple[Horizon, ...]
    #: The expected loss of stopping now and keeping the control (relative to it).
    loss_keep: float
    simulations: int


class Segment(Record):
    """One level of a segment: its own lift and the lift pooled across the levels."""

    metric: str
    segment: str
    level: str
    n: int
    #: ``None`` where the level has no lift of its own (``no_own`` says why).
    own: Summary | None
    no_own: Literal["few_units", "control_zero"] | MISSING = MISSING
    own_se: float | None
    pooled: Summary
    prob_positive: Prob
    shrinkage: Prob
    few_units: bool


class SegmentSpread(Record):
    """How much a segment's levels really differ: the spread of their true lifts."""

    metric: str
    segment: str
    levels: int
    few_units_below: int
    sigma: Estimate
    overall: Estimate


class Sensitivity(Record):
    """The primary metric's verdict under a flat, a sceptical or the user's prior."""

    prior: Literal["flat", "sceptical", "user"]
    scale: float | None
    verdict: Verdict
    arm: str
    prob_better: Prob
    lift_rel: Summary | None
    lift_abs: Summary | MISSING = MISSING


class Progress(Record):
    """How far along a planned experiment is, as of the readout (issue 21)."""

    #: The day of the experiment the data were read as of (1: its first day).
    day: int
    planned_days: int = Field(ge=1)
    #: Day 1: ``start`` from the config, else the first exposure's day (UTC).
    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    #: The planned last day.
    end: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    #: Units exposed so far.
    units: int = Field(ge=0)
    planned_units: int | None
    #: ``units / planned_units`` with planned units, else ``day / planned_days``.
    fraction: float = Field(ge=0)
    fraction_basis: Literal["units", "days"]
    at_end: bool
    #: After the planned end: the data are read as of the end, so its verdict stands.
    read_until: str | None | MISSING = Field(MISSING, pattern=r"^\d{4}-\d{2}-\d{2}$")


class HarmBoundary(Record):
    """The evidence of harm that stops an experiment at this look."""

    rule: Literal["pocock", "obrien_fleming"]
    constant: float
    evidence_needed: Prob


class Sequential(Record):
    """The sequential rule's numbers at this look (:func:`analyses.core.sequential.look`)."""

    rule: Literal["obrien_fleming", "pocock"]
    alpha: Prob
    looks: int = Field(ge=1)
    constant: float
    cap: Prob
    fixed_threshold: Prob
    end_threshold: Prob
    day: float
    planned_days: int
    window_days: float
    units: float | None
    planned_units: float | None
    #: The information fraction (units or days whose windows have closed, over the end's).
    fraction: float = Field(ge=0)
    fraction_basis: Literal["units", "days"]
    at_end: bool
    #: The chance of being better today's look needs (the end's at and after the end).
    evidence_needed: Prob
    harm: HarmBoundary


class AbResults(Results):
    """The results an A/B readout adds to its bundle (the primary metric's at the top)."""

    mode: Literal["warehouse", "file"]
    metric_type: Kind
    log_transform: bool
    robust: bool
    observational: bool
    aa_test: bool
    unit_label: str
    control: str
    arm_labels: dict[str, str]
    value_label: str
    prior: Prior
    prior_influence: float | None
    arms: tuple[Arm, ...] = Field(min_length=2)
    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    #: The arm the headline comparison is about.
    primary: str
    srm: SampleRatio
    exposures: Exposures | None
    excluded: LeftOut | None | MISSING = MISSING
    frequentist: HeadlineTest
    metrics: tuple[Metric, ...] = Field(min_length=1)
    segments: tuple[Segment, ...]
    segment_spread: tuple[SegmentSpread, ...] | MISSING = MISSING
    #: The primary metric's verdict under other priors (not for the Student-t model).
    sensitivity: tuple[Sensitivity, ...] | MISSING = MISSING
    forecast: Forecast | None | MISSING = MISSING
    #: The prior the primary metric was read with given the programme, and what decided.
    programme_prior: ProgrammePrior | MISSING = MISSING
    #: An experiment with a planned length: how far along it is.
    progress: Progress | None | MISSING = MISSING


class Thresholds(Record):
    """The decision's thresholds, as the config set them."""

    min_prob_better: float
    max_expected_loss: float
    rope: float | None


class AbDecision(Decision):
    """The verdict of an A/B readout and the numbers behind it."""

    verdict: Verdict
    #: The arm it is about (``None``: none, e.g. keep the control).
    arm: str | None = MISSING
    #: The metric that decided: the primary, or a guardrail that stopped a ship.
    deciding_metric: str | None = MISSING
    prob_better: Prob | MISSING = MISSING
    lift_rel_hdi: Interval | None | MISSING = MISSING
    expected_loss_rel: float | MISSING = MISSING
    thresholds: Thresholds
    #: ``no_difference`` and A/A tests: the widest end of the lifts' intervals.
    widest: float | MISSING = MISSING
    #: A withheld verdict: the checks that failed.
    failed_checks: tuple[Literal["srm", "exposures", "excluded", "diagnostics"], ...] | MISSING = (
        MISSING
    )
    #: A guardrail that stopped a ship.
    prob_harm: Prob | MISSING = MISSING
    tolerated_harm: float | MISSING = MISSING
    #: A planned experiment: the sequential rule's numbers at this look.
    sequential: Sequential | MISSING = MISSING
    #: ``no_clear_difference``: the undecided reason the primary had at the planned end,
    #: and the half-width of the interval of the lift reached (its precision).
    evidence_reason: str | MISSING = MISSING
    precision: float | None | MISSING = MISSING


AbBundle = bundle_model("ab_test", AbResults, AbDecision, Diagnostics)
