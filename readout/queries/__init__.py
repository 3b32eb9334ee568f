"""Compile an analysis's request into queries, check the columns in the engine, fetch.

Each part of a request becomes ibis expressions compiled to the source's own SQL:

* a check query counting, per configured column and rule, the rows that break it (a missing
  value, a non-number, a value outside 0/1, ...); on a failure a second query finds the first
  offending rows so the message can name them;
* the part's query: the rows themselves (:class:`~analyses.core.inputs.Rows`, pruned to the
  columns used, bounded by the row limit), or sufficient statistics per group
  (:class:`~analyses.core.inputs.Summary`), or for an experiment read from a warehouse one query
  that deduplicates the assignments, joins every metric's events within its window, caps,
  adds covariates and returns per arm (x segment) counts and sums
  (:class:`~analyses.core.inputs.Experiment`).

Compiled SQL is cached under ``<output>/.cache/queries/`` by a key of the request, the
engine, the schemas of the tables it reads and the library versions, so a scheduled re-run
runs cached SQL on the engine's driver without importing ibis.

The package's modules, one reason to change each: ``common`` (names, words, number
parsing, the engine's errors), ``checks`` (the check query and its messages), ``rows`` (rows and
summaries), ``as_of`` (the --as-of cut, assignments, events, windows), ``metrics``
(per-metric-kind measures, caps, ratio pre-periods), ``experiment`` (the experiment, exclusion
and histogram queries), ``cache`` (compiling and the compile cache key), ``fetch`` (running and
reading), ``history`` (the planning history query).
"""

# Imported from here by other modules since readout.queries was one file.
from analyses.core.inputs import MAX_MAGNITUDE, Value
from readout.queries.as_of import (
    ASSIGNMENT_COLUMNS,
    EXCLUSION_REASONS,
    _assignments,
    _cutoff,
    _days,
    _events,
    _read,
    _relation,
    _require,
    _temporal,
    _units,
    _window,
    unit_columns,
)
from readout.queries.cache import (
    _jsonable,
    _present,
    _require_columns,
    _require_in_file,
    _require_time_column,
    _versions,
    cache_key,
    compile_request,
    compiled,
)
from readout.queries.checks import (
    RULE_WORDS,
    SPECIFIC,
    _check,
    _columns_of,
    _examples,
    _violations,
    check_expression,
)
from readout.queries.common import (
    ENGINE_MODULES,
    EXAMPLES,
    NO_WORDS,
    QUERY_VERSION,
    READ_NOTES,
    YES_WORDS,
    Problem,
    Where,
    _engine_problem,
    _first_line,
    _is_numeric,
    _number,
    _sql_fix,
    _words,
    _yes_no,
)
from readout.queries.experiment import (
    exclusions_expression,
    experiment_expression,
    histogram_expression,
    keyed_metrics,
)
from readout.queries.fetch import (
    _non_finite,
    _unit_text,
    canonical,
    excluded,
    exposures,
    fetch,
    finite,
)
from readout.queries.history import (
    history,
    history_expression,
)
from readout.queries.metrics import (
    _capped,
    _measure,
    _per_unit,
    _ratio_pre,
    _ratio_pre_sums,
)
from readout.queries.rows import (
    _stats,
    rows_expression,
    summary_expression,
)

__all__ = [
    "MAX_MAGNITUDE",
    "Value",
    "READ_NOTES",
    "QUERY_VERSION",
    "EXAMPLES",
    "Where",
    "Problem",
    "_is_numeric",
    "YES_WORDS",
    "NO_WORDS",
    "_words",
    "_number",
    "_yes_no",
    "ENGINE_MODULES",
    "_engine_problem",
    "_first_line",
    "_sql_fix",
    "_violations",
    "check_expression",
    "_columns_of",
    "RULE_WORDS",
    "SPECIFIC",
    "_examples",
    "_check",
    "rows_expression",
    "_stats",
    "summary_expression",
    "_relation",
    "ASSIGNMENT_COLUMNS",
    "_temporal",
    "_require",
    "_days",
    "_window",
    "_read",
    "_cutoff",
    "EXCLUSION_REASONS",
    "_assignments",
    "_units",
    "unit_columns",
    "_events",
    "_per_unit",
    "_measure",
    "_capped",
    "_ratio_pre",
    "_ratio_pre_sums",
    "exclusions_expression",
    "experiment_expression",
    "histogram_expression",
    "keyed_metrics",
    "_versions",
    "_jsonable",
    "cache_key",
    "_present",
    "_require_columns",
    "_require_in_file",
    "_require_time_column",
    "compile_request",
    "compiled",
    "fetch",
    "excluded",
    "finite",
    "_non_finite",
    "_unit_text",
    "canonical",
    "exposures",
    "history_expression",
    "history",
]
