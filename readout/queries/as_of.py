"""Relations as of the --as-of cut: assignments, events and the metric windows after exposure."""

from __future__ import annotations

from datetime import UTC, datetime

from analyses.core.inputs import Experiment, MetricSpec, is_table_name
from readout.queries.common import Problem, Where, _engine_problem
from readout.sources import FILE_ROWS, FILE_TABLE, Engine


def _relation(engine: Engine, where: Where, rows: bool = False):
    if where.file:
        rel = engine.file_table(FILE_ROWS if rows else FILE_TABLE)
        if where.time_column is not None and where.cut_at is not None:
            # As of a day: the rows stamped from its end on did not exist yet.
            moment = rel[where.time_column]
            if moment.type().is_date():
                moment = moment.cast("timestamp")
            # Rows without a time cannot be placed in time: kept, as a warehouse's are.
            rel = rel.filter(moment.isnull() | (moment < _cutoff(where.cut_at)))
        return rel
    return engine.relation(where.table, where.sql)


ASSIGNMENT_COLUMNS = ("unit", "arm", "exposed_at")


def _temporal(dtype) -> bool:
    return dtype.is_timestamp() or dtype.is_date()


def _require(rel, needed: tuple[str, ...], what: str, where: str, fix: str) -> None:
    names = list(rel.schema().names)
    missing = [c for c in needed if c not in names]
    if missing:
        raise Problem(
            where,
            f"{what} returns no column '{missing[0]}' (it returns {', '.join(names)})",
            fix,
        )


def _days(days: float):
    """An interval of ``days`` (fractions allowed), to the second."""
    import ibis

    return ibis.interval(seconds=int(round(days * 86400)))


def unit_columns(key: str | None = None) -> list[str]:
    """The columns that name one unit's row: the unit, and the experiment's key if batched.

    ``key`` is the column naming each row's experiment in a query that reads several
    experiments at once (:mod:`readout.batch`): a unit assigned in two of them is a unit of
    each, so its rows are grouped and joined by both columns.
    """
    return ["unit"] if key is None else ["unit", key]


def _window(events, units, start_days: float, end_days: float, key: str | None = None):
    """The events from ``start_days`` to ``end_days`` after each unit's first exposure.

    With ``key`` (:func:`unit_columns`) each event comes once per experiment of its unit.
    """
    joined = events.join(units.select(*unit_columns(key), first_exposure=units.exposed_at), "unit")
    start = joined.first_exposure + _days(start_days)
    end = joined.first_exposure + _days(end_days)
    return joined.filter((joined.ts >= start) & (joined.ts < end))


def _read(engine: Engine, given: dict[str, str | None], where: str):
    """The relation of a table or query, or a named problem with the engine's own message."""
    try:
        return engine.relation(table=given.get("table"), sql=given.get("sql"))
    except Exception as exc:
        _engine_problem(exc, Where(file=False, label=where))
        raise


def _cutoff(cutoff: datetime | None):
    """The run's cut-off as an ibis timestamp: the engine's clock (now) unless one is given.

    Units first exposed after it had not been exposed when the data were read. ``None`` keeps
    the SQL the same from run to run (so its cache and the data's fingerprint hold); a
    ``readout run --as-of`` passes the end of its day.
    """
    import ibis

    if cutoff is None:
        return ibis.now()
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    return ibis.timestamp(cutoff)


#: Why an assignment row is left out, in order of precedence (0: kept).
EXCLUSION_REASONS = ("unit_missing", "arm_missing", "exposed_missing", "exposed_future")


def _assignments(engine: Engine, part: Experiment, where: str, cutoff: datetime | None):
    """The assignment rows, each with ``reason`` (0: kept) why it is left out.

    The reason is 1 + its index in :data:`EXCLUSION_REASONS`: no unit, no arm, no exposure
    time, exposed after the cut-off.
    """
    import ibis

    kind = "table" if is_table_name(part.assignments) else "sql"
    assignments = _read(engine, {kind: part.assignments}, f"{where}, assignments")
    fix = "return unit, arm and exposed_at (and the segment columns) from assignments"
    _require(assignments, ASSIGNMENT_COLUMNS + part.by, "assignments", where, fix)
    exposed = assignments.exposed_at
    if not _temporal(exposed.type()):
        raise Problem(
            where,
            f"assignments column 'exposed_at' is {exposed.type()}, not a timestamp or date",
            "cast it in the query, e.g. CAST(exposed_at AS TIMESTAMP)",
        )
    if exposed.type().is_date():
        exposed = exposed.cast("timestamp")
    if cutoff is not None:
        # As of an earlier day: rows exposed from its end on did not exist yet, so they are
        # not read at all (not counted either: adding later data changes nothing of that
        # day's readout). Rows without a time cannot be placed in time and stay counted.
        assignments = assignments.filter(exposed.isnull() | (exposed < _cutoff(cutoff)))
        exposed = assignments.exposed_at
        if exposed.type().is_date():
            exposed = exposed.cast("timestamp")
    reason = ibis.cases(
        (assignments.unit.isnull(), 1),
        (assignments.arm.isnull(), 2),
        (exposed.isnull(), 3),
        (exposed > _cutoff(cutoff), 4),
        else_=0,
    )
    return assignments.mutate(reason=reason)


def _units(assignments, by: tuple[str, ...], key: str | None = None):
    """One row per kept unit: first exposure, whether it saw one arm only, its arm and levels.

    ``one_arm``: its least and greatest arm are the same (not a count of distinct arms,
    which engines keep a set of values per unit for: a third of a batched query's time).
    With ``key`` one row per kept unit and experiment (:func:`unit_columns`).
    """
    kept = assignments.filter(assignments.reason == 0)
    arm = kept.arm.cast("string")
    return kept.group_by(unit_columns(key)).aggregate(
        exposed_at=kept.exposed_at.min(),
        one_arm=arm.min() == arm.max(),
        arm=arm.min(),
        **{b: kept[b].cast("string").min() for b in by},
    )


def _events(engine: Engine, metric: MetricSpec, where: str, cutoff: datetime | None = None):
    """A metric's events, checked for the columns its kind needs.

    With an explicit ``cutoff`` (``readout run --as-of``) only events before it are read
    (events without a time are kept, to be counted): the data as they stood then.
    """
    events = _read(
        engine, {"table": metric.table, "sql": metric.sql}, f"{where}, metric '{metric.name}'"
    )
    needed = ("unit", "ts") + (
        ("numerator", "denominator") if metric.kind == "ratio" else ("value",)
    )
    if metric.aggregate in ("count",):
        needed = ("unit", "ts")
    mwhere = f"{where}, metric '{metric.name}'"
    _require(events, needed, "the query", mwhere, f"return {', '.join(needed)}")
    if not _temporal(events.ts.type()):
        raise Problem(
            mwhere,
            f"column 'ts' is {events.ts.type()}, not a timestamp or date",
            "cast it in the query, e.g. CAST(ts AS TIMESTAMP)",
        )
    if cutoff is not None:
        ts = events.ts.cast("timestamp") if events.ts.type().is_date() else events.ts
        events = events.filter(ts.isnull() | (ts < _cutoff(cutoff)))
    return events
