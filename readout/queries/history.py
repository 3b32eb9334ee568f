"""The planning history query (``readout plan``): per arm, units and metric sums over time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from analyses.core.inputs import Experiment, MetricSpec, Value
from readout.errors import DataError
from readout.queries.as_of import _assignments, _events, _units, _window
from readout.queries.common import Where, _engine_problem
from readout.queries.fetch import canonical
from readout.queries.metrics import _capped, _per_unit
from readout.queries.rows import _stats
from readout.sources import Engine


def history_expression(
    engine: Engine, part: Experiment, metric: MetricSpec, where: str, start: datetime, end: datetime
):
    """One query: per arm, the units first exposed in ``[start, end)`` and the metric's sums.

    Per arm: ``n`` (units), ``exposed_first`` and ``exposed_last`` (epoch seconds) and, over
    the units whose window closed by ``end``, ``counted`` and the metric's ``__n``, ``__sum``
    and ``__sum2`` (a ratio: ``__num``, ``__den``, ``__num2``, ``__den2``, ``__numden``).
    """
    from datetime import timedelta

    import ibis

    def stamp(moment: datetime):
        return ibis.timestamp(moment.astimezone(UTC).replace(tzinfo=None))

    units = _units(_assignments(engine, part, where, end), ())
    units = units.filter((units.exposed_at >= stamp(start)) & units.one_arm)
    seconds = units.exposed_at.epoch_seconds().cast("float64")
    exposed = units.group_by("arm").aggregate(
        n=units.count(), exposed_first=seconds.min(), exposed_last=seconds.max()
    )
    closed = units.filter(units.exposed_at < stamp(end - timedelta(days=metric.window_days)))
    events = _events(engine, metric, where)
    per_unit = _capped(_per_unit(_window(events, closed, 0, metric.window_days), metric), metric)
    joined = closed.left_join(per_unit, "unit")
    m = metric.name
    if metric.kind == "ratio":
        num, den = joined.num.fill_null(0.0), joined.den.fill_null(0.0)
        aggs = {
            f"{m}__num": num.sum(),
            f"{m}__den": den.sum(),
            f"{m}__num2": (num * num).sum(),
            f"{m}__den2": (den * den).sum(),
            f"{m}__numden": (num * den).sum(),
        }
    else:
        value = joined.v if metric.aggregate == "mean" else joined.v.fill_null(0.0)
        aggs = _stats(value.cast("float64"), Value(m, m, ("moments",)))
    counted = joined.group_by("arm").aggregate(counted=joined.count(), **aggs)
    out = exposed.left_join(counted, "arm")
    return out.select(exposed, *[c for c in counted.columns if c != "arm"])


def history(
    engine: Engine,
    part: Experiment,
    metric: MetricSpec,
    where: Where,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, np.ndarray], str]:
    """Run :func:`history_expression` (``readout plan``): its rows per arm, and its SQL.

    Raises
    ------
    DataError
        The user's SQL fails or returns the wrong columns (exit 2).
    """
    import ibis

    try:
        expr = history_expression(engine, part, metric, where.label, start, end)
        sql = str(ibis.to_sql(expr, dialect=engine.backend))
        return canonical(engine.execute(sql)), sql
    except DataError:
        raise
    except Exception as exc:
        _engine_problem(exc, where)
        raise
