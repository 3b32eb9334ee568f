"""What an analysis asks of its data, in words an engine can answer: no SQL here.

An analysis declares a :data:`Request` (named parts) from its spec; ``readout`` compiles each
part into one query for the experiment's source (a CSV or Parquet file read by DuckDB, a
DuckDB file, PostgreSQL, Spark, ...), checks the columns in the engine, runs the query there
and hands back small tables of numbers (:class:`Fetched`). Row-level data leaves the engine
only for :class:`Rows` parts, column-pruned and bounded by the row limit; :class:`Summary` and
:class:`Experiment` parts return sufficient statistics per group.

Also here: the config keys of a warehouse metric (``[[experiments.metrics]]``), shared by the
analyses that read experiments from a warehouse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A rule a column's every value must follow, checked row by row in the engine.
Rule = Literal["binary", "positive", "nonnegative", "integer", "finite", "unit_interval"]
#: Largest magnitude a number may have: squares of larger values overflow summaries.
MAX_MAGNITUDE = 1e15
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Column:
    """A configured column: the key that names it, how it is read and what it must hold."""

    key: str
    name: str
    kind: Literal["text", "number"] = "number"
    rules: tuple[Rule, ...] = ("finite",)
    #: What to do when a rule fails (a rule-specific fix; the engine knows the generic ones).
    fix: str = ""
    #: Whether empty cells are refused (otherwise they are left out of summaries).
    required: bool = True
    #: Whether the column may be absent (then it is simply not fetched).
    optional: bool = False


@dataclass(frozen=True)
class Rows:
    """Row-level columns, fetched column-pruned and bounded by the row limit."""

    columns: tuple[Column, ...]
    #: ``"data"`` (the experiment's data) or the config name of a further input file.
    input: str = "data"


@dataclass(frozen=True)
class Value:
    """A per-row numeric value summarised per group.

    ``stats`` chooses the sufficient statistics: ``moments`` (count, sum, sum of squares),
    ``logs`` (count of positive values, sum and sum of squares of their logs).
    """

    name: str
    column: str
    stats: tuple[Literal["moments", "logs"], ...] = ("moments",)


@dataclass(frozen=True)
class Summary:
    """Rows (each one unit) grouped by columns, with a count and each value's statistics."""

    by: tuple[Column, ...]
    values: tuple[Value, ...]
    #: Further columns checked row by row before summarising.
    checks: tuple[Column, ...] = ()


class MetricSpec(BaseModel):
    """One ``[[experiments.metrics]]`` entry: a metric read from a warehouse.

    The query (``sql``, or a ``table``) returns ``unit``, ``ts`` and ``value`` columns
    (a ratio metric: ``unit``, ``ts``, ``numerator``, ``denominator``). Each unit's events
    within ``window_days`` after its first exposure are aggregated per unit; units without
    events count as zero, except for ``aggregate = "mean"``, whose units without events are
    left out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=60)
    label: str | None = Field(None, min_length=1)
    sql: str | None = Field(None, min_length=1)
    table: str | None = Field(None, pattern=IDENTIFIER.pattern)
    aggregate: Literal["any", "sum", "count", "count_distinct", "mean"] = "sum"
    kind: Literal["binary", "count", "continuous", "lognormal", "ratio", "revenue", "quantile"] = (
        "continuous"
    )
    #: The quantile a ``kind = "quantile"`` metric compares (0.9: the 90th percentile of the
    #: units' values).
    quantile: float | None = Field(None, gt=0, lt=1)
    window_days: float = Field(14.0, gt=0, le=3660)
    higher_is_better: bool = True
    role: Literal["primary", "secondary", "guardrail"] = "secondary"
    max_harm: float | None = Field(None, ge=0, lt=1)
    covariate_days: float | None = Field(None, gt=0, le=3660)
    cap_percentile: float | None = Field(None, gt=50, lt=100)
    cap_value: float | None = Field(None, gt=0)
    value_prefix: str = ""
    value_suffix: str = ""
    #: A user-set prior on the relative lift (issue 27): its mean and sd, e.g. 0.01 and 0.02.
    prior_mean: float | None = None
    prior_sd: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        if (self.sql is None) == (self.table is None):
            raise ValueError("give either sql or table (one of them)")
        if self.kind == "binary" and self.aggregate != "any":
            raise ValueError('a binary metric aggregates with aggregate = "any"')
        if self.aggregate == "any" and self.kind != "binary":
            raise ValueError('aggregate = "any" makes a binary metric: set kind = "binary"')
        if self.kind == "ratio" and self.aggregate != "sum":
            raise ValueError('a ratio metric sums its numerator and denominator: aggregate = "sum"')
        if self.max_harm is not None and self.role != "guardrail":
            raise ValueError('max_harm applies to guardrails only (role = "guardrail")')
        if self.cap_percentile is not None and self.cap_value is not None:
            raise ValueError("cap at a percentile or at a value, not both")
        if (self.cap_percentile or self.cap_value) and self.kind in ("binary", "ratio"):
            raise ValueError(f"a {self.kind} metric cannot be capped")
        _check_user_prior(self)
        if self.covariate_days and self.kind in ("lognormal", "revenue"):
            raise ValueError(
                f"a {self.kind} metric cannot use a covariate (CUPED); "
                'kind = "continuous" models the plain mean, which can'
            )
        self._quantile_keys()
        return self

    def _quantile_keys(self) -> None:
        """A quantile metric's own keys (issue 27), each refusal naming the fix."""
        if self.kind != "quantile":
            if self.quantile is not None:
                raise ValueError(
                    'quantile applies to kind = "quantile" only: set kind = "quantile" or '
                    "remove quantile"
                )
            return
        if self.quantile is None:
            raise ValueError(
                'a kind = "quantile" metric needs quantile, the level to compare: '
                "quantile = 0.9 for the 90th percentile (between 0 and 1)"
            )
        if self.covariate_days:
            raise ValueError(
                "a quantile metric cannot use a covariate (CUPED): remove covariate_days, or "
                'use kind = "continuous" to compare the mean'
            )
        if self.cap_percentile is not None or self.cap_value is not None:
            raise ValueError(
                "a quantile metric is not capped (a quantile is not moved by a few extreme "
                "values): remove cap_percentile and cap_value"
            )

    @property
    def tolerated_harm(self) -> float:
        """The relative harm a guardrail tolerates (none unless ``max_harm`` says so)."""
        return self.max_harm or 0.0


def _check_user_prior(metric: MetricSpec) -> None:
    """``prior_mean`` and ``prior_sd`` together, a lift above -100% and a spread above 0."""
    if (metric.prior_mean is None) != (metric.prior_sd is None):
        given, other = (
            ("prior_mean", "prior_sd") if metric.prior_sd is None else ("prior_sd", "prior_mean")
        )
        raise ValueError(
            f"{given} needs {other} (a prior on the relative lift has a mean and a spread): "
            "add both, e.g. prior_mean = 0.0 and prior_sd = 0.05, or remove it"
        )
    if metric.prior_sd is not None and not metric.prior_sd > 0:
        raise ValueError(
            f"prior_sd = {metric.prior_sd:g} must be above 0 (the prior's spread of the "
            "relative lift, e.g. 0.05 for 5%)"
        )
    if metric.prior_mean is not None and not metric.prior_mean > -1:
        raise ValueError(
            f"prior_mean = {metric.prior_mean:g} is a relative lift of -100% or less: give a "
            "value above -1 (e.g. 0.0 for no change, 0.02 for +2%)"
        )


@dataclass(frozen=True)
class Experiment:
    """Assignments joined to metrics in the engine, summarised per arm (x ``by`` columns).

    ``assignments`` is a table name or a query returning ``unit``, ``arm``, ``exposed_at``
    and the ``by`` columns. A unit assigned to more than one arm is counted apart (a health
    check) and left out of every metric.
    """

    assignments: str
    metrics: tuple[MetricSpec, ...]
    by: tuple[str, ...] = ()


#: Relative accuracy of a quantile metric's histogram: a bin's values lie within about
#: twice this relative distance of each other, so a quantile read from the bins (as the mean of
#: the values in its bin) is within 0.2% of the exact one.
HISTOGRAM_ACCURACY = 0.001


@dataclass(frozen=True)
class Histogram:
    """Per arm, the units' values of each quantile metric binned on a logarithmic grid.

    The same assignments, windows and units as :class:`Experiment` (``part``); per metric,
    arm and bin: the units counted and the sum of their values (positive values fall in bins
    ``ceil(log(v) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``, negative ones in the
    mirror bins below, zeros in a bin of their own).
    """

    part: Experiment
    accuracy: float = HISTOGRAM_ACCURACY


class RowsSource(BaseModel):
    """Keys of an analysis that reads rows: from a source, a ``table`` or an ``sql`` query."""

    table: str | None = Field(None, pattern=IDENTIFIER.pattern)
    sql: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _table_or_sql(self):
        given = (self.table is not None) + (self.sql is not None)
        if getattr(self, "source", None) is not None and given != 1:
            raise ValueError("with a source, give either table or sql (the rows to read)")
        if getattr(self, "source", None) is None and given:
            raise ValueError("table and sql read from a source: set source, or use data")
        return self


#: The named parts an analysis asks for.
Request = dict[str, Rows | Summary | Experiment | Histogram]


def is_table_name(text: str) -> bool:
    """Whether an ``assignments`` value names a table (else it is a query)."""
    return bool(IDENTIFIER.match(text.strip()))


def metric_values(metric: MetricSpec) -> tuple[str, ...]:
    """The per-unit columns an experiment query produces for a metric."""
    if metric.kind == "ratio":
        pre = (f"{metric.name}__pnum", f"{metric.name}__pden") if metric.covariate_days else ()
        return (f"{metric.name}__num", f"{metric.name}__den", *pre)
    columns = (metric.name,)
    if metric.covariate_days:
        columns += (f"{metric.name}__pre",)
    return columns


#: A fetched table: column name -> one-dimensional array.
Frame = dict[str, np.ndarray]


@dataclass(frozen=True)
class Fetched:
    """What the engine returned for a request: small tables of numbers and their queries.

    Attributes
    ----------
    parts
        One table per requested part.
    source
        How messages name the data: a file path, or ``source 'warehouse' (postgresql://...)``
        with any password masked.
    row_numbers
        Whether row positions in messages are a file's rows (else they are units).
    extras
        Further facts the engine found (for experiments: units assigned to several arms,
        units and events left out and why).
    notes
        How the data were read where that was not the plain way (a semicolon-separated
        file, decimal commas, yes/no answers read as 1 and 0): ``{"code", ...}`` records the
        report states among its data notes.
    as_of
        What the data were read as of: the day of ``readout run --as-of`` (ISO date; its
        events and exposures before the next midnight UTC), or the run's moment (ISO
        timestamp, UTC). ``None`` when unknown.
    until
        The day the data were cut at instead, when that is earlier: an experiment read
        after its planned end is read as of the end (ISO date), so its verdict stands.
    """

    parts: dict[str, Frame]
    source: str
    row_numbers: bool = True
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    as_of: str | None = None
    until: str | None = None
