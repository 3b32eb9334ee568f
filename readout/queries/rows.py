"""A part's rows or per-group sufficient statistics (Rows, Summary)."""

from __future__ import annotations

from typing import Any

from analyses.core.inputs import Column, Summary, Value
from readout.queries.common import _number, _yes_no


def rows_expression(rel, columns: tuple[Column, ...], limit: int):
    """The configured columns only, numbers as floats and labels as text."""
    picked = {}
    for column in columns:
        col = rel[column.name]
        picked[column.name] = (
            _number(col, _yes_no(column)) if column.kind == "number" else col.cast("string")
        )
    return rel.select(**picked).limit(limit + 1)


def _stats(col, value: Value, words: bool = False) -> dict[str, Any]:
    import ibis

    x = _number(col, words)
    out = {}
    if "moments" in value.stats:
        out |= {
            f"{value.name}__n": x.count(),
            f"{value.name}__sum": x.sum(),
            f"{value.name}__sum2": (x * x).sum(),
        }
    if "logs" in value.stats:
        positive = x > 0
        log = ibis.ifelse(positive, x.log(), 0.0)
        out |= {
            f"{value.name}__npos": ibis.ifelse(positive, 1, 0).sum(),
            f"{value.name}__sumlog": log.sum(),
            f"{value.name}__sumlog2": (log * log).sum(),
        }
    return out


def summary_expression(rel, part: Summary):
    """Per group of the ``by`` columns: the count and each value's sufficient statistics."""
    keys = {c.name: rel[c.name].cast("string") for c in part.by}
    aggs = {"n": rel.count()}
    binary = {c.name for c in part.checks if _yes_no(c)}
    for value in part.values:
        aggs |= _stats(rel[value.column], value, value.column in binary)
    return rel.group_by(**keys).aggregate(**aggs)
