"""Typed results: the blocks every bundle is built from, and the bundle's envelope.

Every shape a bundle holds is one frozen pydantic model (:class:`Record`): built in
``fit``, validated once when a bundle is read, read by the wording as attributes. The
bundle's JSON Schema (``docs/bundle.schema.json``) is generated from these models, so a
result is described once.

A field a bundle may leave out has the default :data:`MISSING` (``pydantic.MISSING``): it is
left out of the JSON when it was not given, and ``field is MISSING`` says so when read; a
field that is there but empty is ``None`` (JSON ``null``). A bundle read from JSON and
dumped again (``Model.model_validate(json).model_dump(mode="json")``) is the same JSON.

Here: the shared blocks (:class:`Summary` and its kin, :class:`Diagnostics`,
:class:`DataWarning`, :class:`FigureRef`, :class:`TableRef`, :class:`Query`,
:class:`KeyNumbers`, :class:`Previous`, :class:`LeftOut`), the base of every analysis's
:class:`Results` and :class:`Decision`, and :class:`Envelope`, the fields every bundle
has. Each analysis's ``results.py`` builds its own from them; :func:`bundle_model` joins
an analysis's results and decision to the envelope.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import MISSING, BaseModel, ConfigDict, Field, create_model

__all__ = [
    "MISSING",
    "Decision",
    "Diagnostics",
    "DataWarning",
    "Envelope",
    "Estimate",
    "FigureRef",
    "Interval",
    "KeyNumbers",
    "LeftOut",
    "LeftOutEvents",
    "LeftOutReasons",
    "Prob",
    "Previous",
    "Query",
    "Record",
    "Results",
    "Signed",
    "Summary",
    "TableRef",
    "bundle_model",
    "given",
    "plain",
]

#: The version of the bundle's layout; it is the first key of every bundle.
SCHEMA_VERSION = "1.0"
#: A slug: experiment names, codes.
SLUG = r"^[a-z0-9][a-z0-9_-]*$"
SHA256 = r"^[0-9a-f]{64}$"


class Record(BaseModel):
    """A frozen result: unknown keys refused, infinities kept as JSON's ``Infinity``."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


def given(value: Any) -> bool:
    """Whether an optional field was given (is not :data:`MISSING`)."""
    return value is not MISSING


def plain(value: Any) -> Any:
    """A typed result as plain JSON types (a dict, lists, numbers); anything else as it is.

    The runner uses it to write a typed result into the bundle's JSON.
    """
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


#: An interval's ends, ``[low, high]``.
Interval = tuple[float, float]
#: A probability.
Prob = Annotated[float, Field(ge=0.0, le=1.0)]


class Summary(Record):
    """A posterior summary: its mean and its HDI (``ci_prob`` of the bundle)."""

    mean: float
    hdi: Interval


class Estimate(Summary):
    """A summary with what else is known of it: its posterior sd, its chance of being > 0."""

    sd: float | MISSING = MISSING
    prob_positive: Prob | MISSING = MISSING


class Signed(Summary):
    """A summary with its chance of being above zero (and its sd where known)."""

    prob_positive: Prob
    sd: float | MISSING = MISSING


class Diagnostics(Record):
    """How the posterior was computed and whether it can be trusted (``ok``).

    Sampled posteriors carry R-hat, bulk ESS and divergences; importance sampling its
    Pareto k and limit; independent draws R-hat 1 and their number as ESS.
    """

    r_hat_max: float
    ess_bulk_min: float
    divergences: int = Field(ge=0)
    ok: bool
    r_hat_limit: float | MISSING = MISSING
    #: A whole number of draws as written (``400``, not ``400.0``).
    ess_limit: int | float | MISSING = MISSING
    method: str | MISSING = MISSING
    #: Importance sampling: Pareto k-hat of the weights and the largest trusted.
    pareto_k: float | MISSING = MISSING
    pareto_k_limit: float | MISSING = MISSING
    #: An exact posterior (independent draws, or integrated on a grid): no sampler chains, so
    #: R-hat, ESS and divergences say nothing of it (a page says "exact posterior").
    exact: bool | MISSING = MISSING


class DataWarning(Record):
    """A problem with the data that did not stop the fit, as a code and its numbers.

    Every analysis declares its codes (``Analysis.warning_codes``; how data were read:
    ``readout.queries.READ_NOTES``); the wording words each.
    """

    code: str = Field(pattern=r"^[a-z_]+$")
    count: int | MISSING = MISSING
    examples: tuple[str, ...] | MISSING = MISSING
    column: str | MISSING = MISSING
    columns: tuple[str, ...] | MISSING = MISSING
    minimum: int | MISSING = MISSING
    empty_arm: int | MISSING = MISSING
    components: tuple[int, ...] | MISSING = MISSING
    threshold: float | MISSING = MISSING
    r_hat_max: float | MISSING = MISSING
    segment: str | MISSING = MISSING
    level: str | MISSING = MISSING
    units: int | MISSING = MISSING
    share: float | MISSING = MISSING
    file: str | MISSING = MISSING
    separator: str | MISSING = MISSING
    key: str | MISSING = MISSING
    rows: int | MISSING = MISSING
    #: The day or moment the data were read as of (``readout run --as-of``), and a windowed
    #: metric's window: units exposed after ``as_of`` minus the window are not counted yet.
    as_of: str | MISSING = MISSING
    window_days: float | MISSING = MISSING
    #: The day (UTC, ISO) of the last exposure, for ``no_recent_traffic`` (``count``: the
    #: days from it to ``as_of``).
    last_exposure: str | MISSING = MISSING


class LeftOutReasons(Record):
    """Why assigned units were left out by a warehouse query, counted."""

    unit_missing: int = Field(ge=0)
    arm_missing: int = Field(ge=0)
    exposed_missing: int = Field(ge=0)
    exposed_future: int = Field(ge=0)


class LeftOutEvents(Record):
    """A metric's events left out: without a unit, or without a time."""

    metric: str
    unit_missing: int = Field(ge=0)
    ts_missing: int = Field(ge=0)
    events: int = Field(ge=0)
    share: Prob


class LeftOut(Record):
    """What a warehouse query left out and why: a health check with its size.

    Built by :func:`analyses.core.health.left_out`; over ``limit`` withholds the verdict.
    """

    units: int = Field(ge=0)
    assigned: int = Field(ge=0)
    share: Prob
    limit: Prob
    ok: bool
    reasons: LeftOutReasons
    cutoff: str | None = MISSING
    later: int | MISSING = Field(MISSING, ge=0)
    events: tuple[LeftOutEvents, ...]


class Exposures(Record):
    """Units exposed to more than one arm."""

    units: int = Field(ge=0)
    multiple_arms: int = Field(ge=0)
    share: Prob
    limit: Prob
    ok: bool


class FigureRef(Record):
    """A figure of the readout: its key and file; its words are made at render time."""

    key: str
    file: str


class TableRef(Record):
    """A full table written beside the report as CSV."""

    key: str
    file: str
    rows: int = Field(ge=0)


class Query(Record):
    """SQL that ran in the data's engine."""

    name: str
    sql: str


class KeyNumbers(Record):
    """The number a history of readouts follows, with its interval and its chance.

    Codes, not words: ``quantity`` says what the number is, ``arm``/``vs``/``feature``/
    ``components`` which one, ``unit`` what ``n`` counts; the wording names them. Readouts
    written before the codes carry English ``label``, ``prob_label`` and ``n_label`` instead
    (read, never written).
    """

    #: ``lift_rel`` / ``lift_abs`` (an A/B lift of ``arm`` over ``vs``), ``average_effect``
    #: (over the units), ``per_step`` (per interquartile step of ``feature``), ``largest_mean``
    #: (the largest of ``components`` components); an analysis declared elsewhere may add its
    #: own, named by its wording package's ``KEY_QUANTITIES``.
    quantity: str | MISSING = MISSING
    arm: str | MISSING = MISSING
    vs: str | MISSING = MISSING
    feature: str | MISSING = MISSING
    components: int | MISSING = MISSING
    #: What ``n`` counts, in the singular: the experiment's unit (``user``) or ``row``.
    unit: str | MISSING = MISSING
    #: Older readouts: the words themselves (read-only compatibility).
    label: str | MISSING = MISSING
    #: ``absolute``: an A/B lift whose relative form is not defined (a control at 0).
    scale: Literal["relative", "value", "absolute"]
    mean: float
    hdi: Interval
    prob: float | None | MISSING = MISSING
    prob_label: str | None | MISSING = MISSING
    n: int
    n_label: str | MISSING = MISSING
    #: An absolute lift in a rate: percentage points.
    percent: bool | MISSING = MISSING
    value_prefix: str | MISSING = MISSING
    value_suffix: str | MISSING = MISSING


class Previous(Record):
    """What the history needs of the readout before this one: numbers only."""

    date: str
    data_sha256: str
    config_sha256: str
    analysis_version: str | None | MISSING = MISSING
    verdict: str
    key_numbers: KeyNumbers | None | MISSING = MISSING


class Results(Record):
    """The base of an analysis's results: the fields it adds to the bundle."""


class Decision(Record):
    """The verdict as a code with the numbers behind it (words come at render time)."""

    verdict: str
    reason_code: str = Field(pattern=r"^[a-z_]+$")


class Envelope(Record):
    """The fields every bundle has, whatever its analysis."""

    schema_version: Literal["1.0"]
    experiment: str = Field(pattern=SLUG)
    title: str
    analysis: str
    analysis_version: str | MISSING = MISSING
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    readout_date: str | MISSING = Field(MISSING, pattern=r"^\d{4}-\d{2}-\d{2}$")
    #: What the data were read as of: a day (``readout run --as-of``: its events and
    #: exposures before the next midnight UTC) or the run's moment (UTC).
    as_of: str | None | MISSING = Field(
        MISSING, pattern=r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?$"
    )
    ci_prob: float = Field(gt=0.5, lt=1.0)
    ci_kind: Literal["hdi"]
    data_file: str | MISSING = MISSING
    data_sha256: str = Field(pattern=SHA256)
    config_sha256: str | MISSING = Field(MISSING, pattern=SHA256)
    fit_key: str | MISSING = MISSING
    #: The experiment's config keys as the readout used them (recipients left out).
    spec: dict[str, Any]
    versions: dict[str, str]
    seed: int
    run_seconds: float | MISSING = Field(MISSING, ge=0)
    diagnostics: Diagnostics
    warnings: tuple[DataWarning, ...] | MISSING = MISSING
    decision: Decision
    key_numbers: KeyNumbers | MISSING = MISSING
    previous: Previous | None | MISSING = MISSING
    queries: tuple[Query, ...] | MISSING = MISSING
    tables: tuple[TableRef, ...] | MISSING = MISSING
    figures: tuple[FigureRef, ...]


@functools.cache
def bundle_model(
    name: str,
    results: type[Results],
    decision: type[Decision],
    diagnostics: type[Diagnostics] = Diagnostics,
) -> type[Envelope]:
    """The model of an analysis's whole bundle: the envelope, its results and decision.

    Parameters
    ----------
    name
        The analysis's name (the bundle's ``analysis``).
    results, decision, diagnostics
        The analysis's models of its results, its decision and its diagnostics.
    """
    title = "".join(part.capitalize() for part in name.split("_")) + "Bundle"
    return create_model(
        title,
        __base__=(Envelope, results),
        __doc__=f"A bundle of analysis {name}: the envelope, its results and its decision.",
        analysis=(Literal[name], ...),
        diagnostics=(diagnostics, ...),
        decision=(decision, ...),
    )
