"""Running a request's compiled checks and queries in the engine and reading the results."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from analyses.core.inputs import Experiment, Fetched, MetricSpec, Request, Rows
from readout.queries.as_of import EXCLUSION_REASONS, _assignments, _events, _units
from readout.queries.cache import _present, compiled
from readout.queries.checks import _check
from readout.queries.common import EXAMPLES, Problem, Where, _engine_problem, _number
from readout.sources import Engine


def fetch(
    engine: Engine,
    request: Request,
    where: Where,
    limit: int,
    cache: Path | None = None,
    files: dict[str, Engine] | None = None,
    write_cache: bool = True,
    cutoff: datetime | None = None,
) -> tuple[Fetched, list[dict[str, str]]]:
    """Check and fetch every part of a request; returns the data and the SQL that ran.

    ``cutoff`` is the moment the data are read as of: units exposed after it are left out
    (and counted). ``None`` is the time of the run.

    Raises
    ------
    DataError
        A missing or malformed column, a broken rule (naming the first rows of a file), too
        many rows, no rows, non-finite metric values, an error of the user's SQL (with the
        engine's own message).
    """
    try:
        plan = compiled(engine, request, where, limit, cache, write_cache, cutoff)
    except Exception as exc:
        _engine_problem(exc, where)
        raise
    queries: list[dict[str, str]] = []
    out: dict[str, dict[str, np.ndarray]] = {}
    extras: dict[str, Any] = {}
    notes: list[dict[str, Any]] = list(engine.notes)
    for name, part in request.items():
        if isinstance(part, Rows) and part.input != "data":
            other = (files or {})[part.input]
            own = Rows(part.columns, "data")
            where_other = Where(file=True, label=other.label)
            sub, sub_queries = fetch(
                other, {name: own}, where_other, limit, cache, write_cache=write_cache
            )
            out[name] = sub.parts[name]
            notes += sub.notes
            queries += sub_queries
            continue
        counts = None
        try:
            if name in plan["checks"]:
                counts = engine.execute(plan["checks"][name])
                if not isinstance(part, Experiment):
                    part = _present(part, plan["columns"][name])
                    notes += _check(engine, where, part, counts, limit)
            result = engine.execute(plan["parts"][name])
            if not isinstance(part, Rows):
                result = canonical(result)
            if isinstance(part, Experiment):
                finite(engine, part, where, result, cutoff)
        except Exception as exc:
            _engine_problem(exc, where)
            raise
        if isinstance(part, Experiment):
            result, multi = exposures(result)
            extras[name] = multi | excluded(counts, part, cutoff)
            if int(np.sum(result["n"])) == 0:
                left = sum(extras[name]["excluded"].values())
                raise Problem(
                    where.label,
                    "no assigned units: the assignments query returned no rows"
                    if not left
                    else f"no assigned units: all {left:,} assignment(s) lack a unit, an arm or "
                    "an exposure time, or were exposed after the run's cut-off",
                    "check the assignments query (its filter, the experiment's name, the dates)",
                )
            queries.append({"name": f"{name}: what was left out", "sql": plan["checks"][name]})
        out[name] = result
        queries.append({"name": name, "sql": plan["parts"][name]})
    fetched = Fetched(
        parts=out, source=where.label, row_numbers=where.file, extras=extras, notes=notes
    )
    return fetched, queries


def excluded(
    counts: dict[str, np.ndarray] | None, part: Experiment, cutoff: datetime | None
) -> dict[str, Any]:
    """What an experiment's query left out, from its check's one row of counts."""

    def count(column: str) -> int:
        value = (counts or {}).get(column)
        if value is None or not len(value) or value[0] is None or np.isnan(float(value[0])):
            return 0
        return int(value[0])

    return {
        "excluded": {reason: count(reason) for reason in EXCLUSION_REASONS},
        "events": {
            m.name: {
                "unit_missing": count(f"{m.name}__unit_missing"),
                "ts_missing": count(f"{m.name}__ts_missing"),
                "events": count(f"{m.name}__events"),
            }
            for m in part.metrics
        },
        "cutoff": None if cutoff is None else cutoff.isoformat(),
    }


def finite(
    engine: Engine,
    part: Experiment,
    where: Where,
    result: dict[str, np.ndarray],
    cutoff: datetime | None,
) -> None:
    """Refuse a metric whose values include NaN or infinity, naming the first units.

    A sum over a non-finite value is not finite, so the per-arm sums show it at no cost (a
    sum over no values is NULL, not a problem: its count is zero); only then does a second
    query count the events and find their units. Unchecked, a NaN would read as 0.
    """
    for metric in part.metrics:
        count = result.get(f"{metric.name}__n", result["n"]).astype(float)
        broken = any(
            np.any((count > 0) & ~np.isfinite(values.astype(float)))
            for column, values in result.items()
            if column.startswith(f"{metric.name}__") and values.dtype != object
        )
        if broken:
            raise _non_finite(engine, part, metric, where, cutoff)


def _non_finite(
    engine: Engine, part: Experiment, metric: MetricSpec, where: Where, cutoff: datetime | None
) -> Problem:
    """How many of a metric's events (of the experiment's units) are not finite, and whose."""
    import ibis

    units = _units(_assignments(engine, part, where.label, cutoff), ())
    events = _events(engine, metric, where.label, cutoff).semi_join(units.select("unit"), "unit")
    columns = ("numerator", "denominator") if metric.kind == "ratio" else ("value",)
    bad = ibis.literal(False)
    for column in columns:
        value = _number(events[column])
        bad = bad | value.isnan().fill_null(False) | value.isinf().fill_null(False)
    flagged = events.filter(bad)
    count = engine.execute(str(ibis.to_sql(flagged.aggregate(n=flagged.count()), engine.backend)))
    first = flagged.select("unit").distinct().order_by("unit").limit(EXAMPLES + 1)
    found = engine.execute(str(ibis.to_sql(first, dialect=engine.backend)))["unit"]
    shown = ", ".join(_unit_text(u) for u in found[:EXAMPLES]) + (
        " and more" if len(found) > EXAMPLES else ""
    )
    named = " or ".join(f"'{c}'" for c in columns)
    return Problem(
        where.label,
        f"metric '{metric.name}': {int(count['n'][0]):,} event(s) of the experiment's units have "
        f"a {named} that is not a finite number (NaN or infinity), for units {shown}",
        "correct those rows, or leave them out in the metric's query "
        f"(e.g. WHERE isfinite({columns[0]}))",
    )


def _unit_text(unit: Any) -> str:
    """A unit as its id is written (numbers come back as floats: 3, not 3.0)."""
    if isinstance(unit, float) and unit.is_integer():
        return str(int(unit))
    return str(unit)


def canonical(result: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Summary rows in one order, whatever order the engine returned them in.

    A GROUP BY has no order; sorting keeps the fingerprint of unchanged numbers the same
    from run to run.
    """
    keys = [v.astype(str) for v in result.values() if v.dtype == object]
    if not keys or not len(keys[0]):
        return result
    order = np.lexsort(keys[::-1])
    return {k: v[order] for k, v in result.items()}


def exposures(result: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    """Split units assigned to several arms (a health check) from the rest."""
    multi = result.pop("multi").astype(float) > 0
    first = result.pop("exposed_first").astype(float)
    last = result.pop("exposed_last").astype(float)
    counted = {
        "units": int(np.sum(result["n"])),
        "multiple_arms": int(np.sum(result["n"][multi])),
        "first_exposure": float(np.nanmin(first)) if first.size else float("nan"),
        "last_exposure": float(np.nanmax(last)) if last.size else float("nan"),
    }
    return {k: v[~multi] for k, v in result.items()}, counted
