"""One aggregate query for the experiments that read a source the same way (issue 25).

A programme runs many experiments whose warehouse queries differ only in the experiment's
key: the same assignments query with another ``WHERE experiment = '...'``, the same metrics.
Their per-arm sufficient statistics (and the counts of what was left out) are computed in one
pass over the events tables, grouped by the key as well, and split back per experiment.

An experiment is batched only when everything its SQL depends on is the same as the others'
apart from that one string literal: the source, the metrics (their SQL, aggregate, kind,
window and cap), the segments, the run's cut-off; and only for what the batched query knows
how to compute (no percentile cap, no covariate, no ratio or quantile metric, no planned
end, which may re-read the data as of another day). Anything else is fetched on its own,
as before. Each batched readout records the batched SQL and which rows of it are its own.
An experiment whose own numbers fail a check (no units, a non-finite value) is fetched on its
own too, so its message is the one a single query gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from analyses.core.inputs import Experiment as ExperimentPart
from analyses.core.inputs import Fetched
from readout import registry
from readout.data import (
    Loaded,
    as_of_text,
    cutoff_of,
    engine_of,
    fingerprint,
    planned_end,
    where_of,
)
from readout.errors import DataError
from readout.queries import (
    canonical,
    excluded,
    exclusions_expression,
    experiment_expression,
    exposures,
    finite,
    keyed_metrics,
)

if TYPE_CHECKING:
    from readout.config import Experiment
    from readout.sources import Engine

#: The column of the batched queries that names each row's experiment (its key's value).
KEY = "readout_batch_key"
#: The most experiments one batched query reads (its IN list).
MAX_BATCH = 500
#: The metric settings that shape an experiment's SQL.
METRIC_SQL_FIELDS = (
    "name",
    "sql",
    "table",
    "aggregate",
    "kind",
    "window_days",
    "covariate_days",
    "cap_percentile",
    "cap_value",
    "quantile",
)


# --------------------------------------------------------------------------- the SQL's key


def _dialect(engine: Engine) -> str:
    return engine.dialect or engine.backend


def keyed(sql: str, dialect: str) -> tuple[str, str, str] | None:
    """``(template, column, key)`` of an assignments query filtered by one string literal.

    The template is the query with that literal replaced by a placeholder; ``column`` is the
    column compared with it. Only a plain ``SELECT`` (no grouping, DISTINCT, LIMIT, set
    operation) whose top-level WHERE has ``column = 'key'`` as one of its AND-ed terms
    qualifies, with exactly one such term: then ``column IN (keys...)`` selects the rows of
    each key exactly as its own ``=`` does. ``None`` otherwise.
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except Exception:  # noqa: BLE001 - not parsed here: fetched on its own
        return None
    if not isinstance(tree, exp.Select) or tree.args.get("with"):
        return None
    if any(tree.args.get(k) for k in ("group", "having", "distinct", "limit", "offset", "qualify")):
        return None
    if any(p.find(exp.AggFunc, exp.Window) for p in tree.expressions):
        return None
    where = tree.args.get("where")
    if where is None:
        return None
    terms = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    found = [
        t
        for t in terms
        if isinstance(t, exp.EQ)
        and isinstance(t.this, exp.Column)
        and isinstance(t.expression, exp.Literal)
        and t.expression.is_string
    ]
    if len(found) != 1:
        return None
    term = found[0]
    key = term.expression.this
    column = term.this.sql(dialect=dialect)
    term.expression.replace(exp.Literal.string("\x00readout-key\x00"))
    return tree.sql(dialect=dialect), column, key


def batched_sql(sql: str, keys: list[str], dialect: str) -> str:
    """The assignments query of every key: ``column IN (keys)``, the column returned as KEY."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read=dialect)
    where = tree.args["where"]
    terms = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    term = next(
        t
        for t in terms
        if isinstance(t, exp.EQ)
        and isinstance(t.expression, exp.Literal)
        and t.expression.is_string
        and isinstance(t.this, exp.Column)
    )
    column = term.this.copy()
    term.replace(exp.In(this=term.this.copy(), expressions=[exp.Literal.string(k) for k in keys]))
    tree = tree.select(exp.alias_(column, KEY, quoted=True), copy=False)
    return tree.sql(dialect=dialect)


# --------------------------------------------------------------------------- which batch


def _metric_shape(metric) -> tuple:
    return tuple(getattr(metric, f, None) for f in METRIC_SQL_FIELDS)


def _supported(part: ExperimentPart) -> bool:
    return keyed_metrics(part) and all(m.kind != "quantile" for m in part.metrics)


def groups(experiments: Iterable[Experiment]) -> list[list[tuple[Experiment, str]]]:
    """The experiments that one query can read together, each with its key (2 or more each)."""
    from readout.data import source_key

    found: dict[tuple, list[tuple[Experiment, str]]] = {}
    for experiment in experiments:
        if experiment.data_path is not None or experiment.source is None:
            continue
        spec = experiment.spec
        if getattr(spec, "planned_days", None):
            continue
        request = registry.get(spec.analysis).request(spec)
        if list(request) != ["stats"] or not isinstance(request["stats"], ExperimentPart):
            continue
        part = request["stats"]
        if not _supported(part):
            continue
        dialect = experiment.source.dialect or _backend_name(experiment.source.url)
        shaped = keyed(part.assignments, dialect) if dialect else None
        if shaped is None:
            continue
        template, column, key = shaped
        signature = (
            source_key(experiment),
            dialect,
            template,
            column,
            part.by,
            tuple(_metric_shape(m) for m in part.metrics),
        )
        found.setdefault(signature, []).append((experiment, key))
    out = []
    for members in found.values():
        for i in range(0, len(members), MAX_BATCH):
            chunk = members[i : i + MAX_BATCH]
            if len({key for _, key in chunk}) > 1:
                out.append(chunk)
    return out


def _backend_name(url: str) -> str | None:
    from readout.sources import backend_of

    try:
        return backend_of(url)
    except Exception:  # noqa: BLE001 - an unknown URL is named by the single query
        return None


# --------------------------------------------------------------------------- fetching


def _rows(result: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    chosen = result[KEY].astype(str) == key
    return {k: v[chosen] for k, v in result.items() if k != KEY}


def _label(name: str, key: str, count: int) -> str:
    return (
        f"{name} (one query for {count} experiments on this source; this readout's rows are "
        f"those with {KEY} = '{key}')"
    )


def fetch_group(
    members: list[tuple[Experiment, str]], as_of: date | None
) -> tuple[dict[str, Loaded], int]:
    """Fetch a batch: each member's :class:`Loaded`, as its own query would give it.

    Returns the loaded experiments (those whose numbers fail a check are left out, to be
    fetched on their own) and how many queries ran. Raises what the engine raises.
    """
    import ibis

    first = members[0][0]
    cutoff = cutoff_of(as_of)
    stated = as_of_text(as_of)
    part = registry.get(first.spec.analysis).request(first.spec)["stats"]
    keys = list(dict.fromkeys(key for _, key in members))
    loaded: dict[str, Loaded] = {}
    with engine_of(first, {"stats": part}) as engine:
        sql = batched_sql(part.assignments, keys, _dialect(engine))
        batch = replace(part, assignments=sql)
        where = where_of(first).label
        stats = experiment_expression(engine, batch, where, cutoff, key=KEY)
        checks = exclusions_expression(engine, batch, where, cutoff, key=KEY)
        stats_sql = str(ibis.to_sql(stats, engine.backend))
        check_sql = str(ibis.to_sql(checks, engine.backend))
        counts = engine.execute(check_sql)
        result = engine.execute(stats_sql)
        returned = {str(k) for k in (*counts[KEY], *result[KEY])}
        if not returned <= set(keys):
            # The engine's = matched rows whose key is written otherwise (a case-blind
            # collation, a padded CHAR): their own queries read them, not this split.
            return {}, 2
        for experiment, key in members:
            own = where_of(experiment)
            mine = canonical(_rows(result, key))
            own_part = registry.get(experiment.spec.analysis).request(experiment.spec)["stats"]
            try:
                finite(engine, own_part, own, mine, cutoff)
            except DataError:
                continue
            mine, multi = exposures(mine)
            if int(np.sum(mine["n"])) == 0:
                continue  # its own query says why
            extras = {"stats": multi | excluded(_rows(counts, key), own_part, cutoff)}
            queries = [
                {
                    "name": _label("stats: what was left out", key, len(keys)),
                    "sql": check_sql,
                },
                {"name": _label("stats", key, len(keys)), "sql": stats_sql},
            ]
            fetched = Fetched(
                parts={"stats": mine},
                source=own.label,
                row_numbers=False,
                extras=extras,
                notes=list(engine.notes),
            )
            fetched = replace(fetched, as_of=stated, until=None)
            if planned_end(experiment.spec, fetched) is not None:
                continue
            loaded[experiment.name] = Loaded(fetched, queries, fingerprint(fetched, queries))
    return loaded, 2


def prefetch(experiments: Iterable[Experiment], as_of: date | None) -> dict[str, Loaded]:
    """Every batchable experiment's data, fetched in one query pair per batch.

    A batch whose query fails is left out whole: each of its experiments is then fetched on
    its own, and its own query names the problem.
    """
    out: dict[str, Loaded] = {}
    try:
        found_groups = groups(experiments)
    except Exception:  # noqa: BLE001 - a spec it cannot read is fetched (and named) on its own
        return out
    for members in found_groups:
        try:
            found, _ = fetch_group(members, as_of)
        except Exception:  # noqa: BLE001 - each experiment's own query says what went wrong
            continue
        out |= found
    return out
