"""The config keys of an ``ab_test`` experiment.

A leaf module: it imports no other module of the A/B package, so every one of them can
import :class:`Spec`, :class:`Decision` and :class:`Priors` without an import cycle.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyses.core.base import BaseSpec
from analyses.core.inputs import MetricSpec

#: Columns the experiment's query makes of its own: no metric or segment may take their names.
QUERY_COLUMNS = (
    "unit",
    "arm",
    "exposed_at",
    "n",
    "n_arms",
    "multi",
    "exposed_first",
    "exposed_last",
)


class Decision(BaseModel):
    """Thresholds of the verdict.

    The default ``min_prob_better`` of 0.97 makes "ship" coincide with the lower end of a
    94% interval of the lift lying above zero, so the verdict agrees with the interval shown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_prob_better: float = Field(0.97, gt=0.5, lt=1.0)
    max_expected_loss: float = Field(0.005, ge=0.0)
    rope: float | None = Field(None, gt=0.0, lt=1.0)


class Priors(BaseModel):
    """Prior settings; ``None`` means scaled to the pooled data (stated in the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(1.0, gt=0.0)
    beta: float = Field(1.0, gt=0.0)
    mu_mean: float | None = None
    mu_sd: float | None = Field(None, gt=0.0)
    sigma: float | None = Field(None, gt=0.0)
    nu_rate: float = Field(0.1, gt=0.0)


class Spec(BaseSpec):
    """Config keys of an ``ab_test`` experiment (a data file, or a warehouse)."""

    analysis: Literal["ab_test"]
    control: str | int
    group: str | None = None
    metric: str | None = None
    metric_type: Literal["binary", "continuous"] | None = None
    log_transform: bool = False
    robust: bool = False
    assignments: str | None = Field(None, min_length=1)
    metrics: list[MetricSpec] = []
    segments: list[str] = []
    observational: bool = False
    aa_test: bool = False
    expected_split: dict[str, float] | None = None
    metric_label: str | None = None
    unit_label: str = Field("user", min_length=1)
    arm_labels: dict[str, str] = {}
    value_prefix: str = ""
    value_suffix: str = ""
    decision: Decision = Decision()
    priors: Priors = Priors()
    #: The planned length in days, counted from the first exposure (or from ``start``).
    planned_days: int | None = Field(None, ge=1, le=3660)
    #: The day the experiment started (day 1), when not the first exposure's.
    start: date | None = None
    #: The units planned to be exposed by the planned end.
    planned_units: int | None = Field(None, ge=1)
    #: A segment column whose levels post-stratify the arms' means (issue 27).
    post_stratify: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_input(self) -> Spec:
        if self.data is not None:
            missing = [k for k in ("group", "metric", "metric_type") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a data file needs {', '.join(missing)} (the columns to compare)")
            if self.assignments or self.metrics:
                raise ValueError(
                    "give either data (a file) or source, assignments and [[experiments.metrics]]"
                )
            if self.log_transform and self.metric_type != "continuous":
                raise ValueError('log_transform needs metric_type = "continuous"')
            if self.robust and self.metric_type != "continuous":
                raise ValueError('robust needs metric_type = "continuous"')
            if self.robust and self.segments:
                raise ValueError("segments cannot be used with robust = true")
        else:
            if not self.assignments or not self.metrics:
                raise ValueError(
                    "a warehouse experiment needs assignments and at least one "
                    "[[experiments.metrics]] (or give data = a file)"
                )
            if any(getattr(self, k) is not None for k in ("group", "metric", "metric_type")):
                raise ValueError("group, metric and metric_type are for a data file")
            if self.robust or self.log_transform:
                raise ValueError("robust and log_transform are for a data file")
            names = [m.name for m in self.metrics]
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise ValueError(
                        f"two metrics are named '{name}' ([[experiments.metrics]] "
                        f"#{names.index(name) + 1} and #{i + 1}): give each a unique name"
                    )
            clash = [n for n in names if n in (*QUERY_COLUMNS, *self.segments) or "__" in n]
            if clash:
                raise ValueError(
                    f"metric name '{clash[0]}' is taken by a column of the experiment's query "
                    f"({', '.join(QUERY_COLUMNS)}, the segments) or holds '__': rename it"
                )
            twice = [s for i, s in enumerate(self.segments) if s in self.segments[:i]]
            if twice:
                raise ValueError(f"segments lists '{twice[0]}' twice")
            reserved = [s for s in self.segments if s in QUERY_COLUMNS]
            if reserved:
                raise ValueError(
                    f"segments lists '{reserved[0]}', a name the experiment's query uses "
                    f"({', '.join(QUERY_COLUMNS)}): name another column"
                )
            primary = [m.name for m in self.metrics if m.role == "primary"]
            if len(primary) > 1 or (not primary and len(self.metrics) > 1):
                raise ValueError('exactly one metric needs role = "primary"')
            self._check_quantiles()
        self._check_plan()
        self._check_variance_keys()
        if self.aa_test and self.observational:
            raise ValueError(
                "an A/A test is randomised: aa_test and observational exclude each other"
            )
        if self.expected_split is not None and any(v <= 0 for v in self.expected_split.values()):
            raise ValueError("every share in expected_split must be above zero")
        return self

    def _check_quantiles(self) -> None:
        """What a quantile metric (issue 27) cannot be.

        The primary metric, or a metric broken down by segments.
        """
        quantiles = [m for m in self.metrics if m.kind == "quantile"]
        if not quantiles:
            return
        primary = [m for m in quantiles if m.role == "primary" or len(self.metrics) == 1]
        if primary:
            raise ValueError(
                f"metric '{primary[0].name}' is a quantile metric and cannot be the primary metric "
                "(the decision, its sensitivity check and the programme's prior read a mean): "
                'give it role = "guardrail" or "secondary" and make another metric primary'
            )
        if self.segments:
            raise ValueError(
                f"segments cannot break down the quantile metric '{quantiles[0].name}': remove "
                "segments, or read the quantile in an experiment without them"
            )

    def _check_plan(self) -> None:
        """``planned_days``, ``start`` and ``planned_units`` (issue 21), with the fix named."""
        if self.planned_days is None:
            for key in ("start", "planned_units"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"{key} needs planned_days (the planned length in days): add "
                        "planned_days = 28, say"
                    )
            return
        if not self.warehouse:
            raise ValueError(
                "planned_days needs a warehouse experiment (assignments with exposed_at: the "
                "days are counted from the exposures); remove planned_days for a data file"
            )
        primary = next((m for m in self.metrics if m.role == "primary"), self.metrics[0])
        if self.planned_days <= primary.window_days:
            raise ValueError(
                f"planned_days = {self.planned_days} is not longer than the primary metric's "
                f"window_days = {primary.window_days:g}: no unit's window would close before "
                "the planned end; plan more days or shorten the window"
            )

    def _check_variance_keys(self) -> None:
        """``post_stratify`` names a segment; a user prior is not read by the sequential rule."""
        if self.post_stratify is not None and self.post_stratify not in self.segments:
            listed = ", ".join(f"'{s}'" for s in self.segments) or "none"
            raise ValueError(
                f"post_stratify = '{self.post_stratify}' is not one of the experiment's segments "
                f"({listed}): add it to segments = [...] or name one of them"
            )
        kinds = (
            [m.kind for m in self.metrics]
            if self.warehouse
            else ["log" if self.log_transform else (self.metric_type or "")]
        )
        if self.post_stratify is not None and not set(kinds) & {"binary", "continuous", "count"}:
            raise ValueError(
                f"post_stratify = '{self.post_stratify}' needs a binary, continuous or count "
                "metric (post-stratification weights plain means); remove post_stratify"
            )
        with_prior = [m.name for m in self.metrics if m.prior_mean is not None]
        if with_prior and self.planned_days is not None:
            raise ValueError(
                f"metric '{with_prior[0]}' sets prior_mean/prior_sd and the experiment sets "
                "planned_days: the sequential rule's evidence thresholds are calibrated with "
                "the weak prior and would not hold its false-ship rate under yours; remove "
                "planned_days (a fixed-horizon readout) or the metric's prior"
            )

    @property
    def planned(self) -> bool:
        """Whether the experiment has a planned length (read every day, issue 21)."""
        return self.planned_days is not None

    @property
    def warehouse(self) -> bool:
        """Whether the experiment is read from a warehouse (assignments and metrics)."""
        return self.data is None
