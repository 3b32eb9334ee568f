"""The check query of a part's columns and the messages naming the offending rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.core.inputs import MAX_MAGNITUDE, Column, Rows, Summary
from readout.queries.as_of import _relation
from readout.queries.common import EXAMPLES, Problem, Where, _is_numeric, _number, _words, _yes_no
from readout.sources import ROW_COLUMN, Engine


def _violations(rel, column: Column):
    """(name, condition) pairs: each condition marks a row that breaks a rule.

    ``words`` marks yes/no answers: a binary column reads them as 1 and 0 (and the report
    says so); any other numeric column refuses them.
    """
    import ibis

    col = rel[column.name]
    out = []
    if column.required:
        out.append(("missing", col.isnull()))
    if column.kind == "number":
        value = _number(col, _yes_no(column))
        answers = _words(col)
        if answers is not None:
            out.append(("words", answers))
        if not _is_numeric(col.type()):
            out.append(("non-numeric", col.notnull() & value.isnull()))
        for rule in column.rules:
            if rule == "finite":
                bad = value.isnan() | value.isinf() | (value.abs() > MAX_MAGNITUDE)
            elif rule == "binary":
                bad = ~value.isin([0.0, 1.0])
            elif rule == "positive":
                bad = value <= 0
            elif rule == "nonnegative":
                bad = value < 0
            elif rule == "unit_interval":
                bad = (value < 0) | (value > 1)
            else:  # integer
                bad = value != value.floor()
            out.append((rule, value.notnull() & bad.fill_null(False)))
    return [(name, ibis.ifelse(cond.fill_null(False), 1, 0)) for name, cond in out]


def check_expression(rel, columns: tuple[Column, ...]):
    """One row: the total row count and, per column and rule, how many rows break it."""
    aggs = {"__rows": rel.count()}
    for i, column in enumerate(columns):
        for name, flag in _violations(rel, column):
            aggs[f"c{i}__{name}"] = flag.sum()
    return rel.aggregate(**aggs)


def _columns_of(part) -> tuple[Column, ...]:
    if isinstance(part, Rows):
        return part.columns
    if isinstance(part, Summary):
        checked = {c.name for c in part.checks}
        values = tuple(
            Column("value", v.column, required=False)
            for v in part.values
            if v.column not in checked
        )
        return part.by + part.checks + values
    return ()


RULE_WORDS = {
    "missing": ("missing value(s)", "fill them in or remove those rows"),
    "non-numeric": ("non-numeric value(s)", "make the column numeric"),
    "finite": (
        f"value(s) that are not finite numbers (inf, NaN or beyond ±{MAX_MAGNITUDE:.0e})",
        "remove or correct those rows (rescale the column if its values are that large)",
    ),
    "binary": ("value(s) other than 0 and 1", "code the outcome as 0 and 1"),
    "positive": ("zero or negative value(s)", "give positive values only"),
    "nonnegative": ("negative value(s)", "give values of zero or more"),
    "integer": ("value(s) that are not whole numbers", "give whole numbers"),
    "unit_interval": ("value(s) outside 0 to 1", "give shares between 0 and 1"),
    "words": (
        "yes/no answer(s) (yes, no, true, false, Y or N) instead of numbers",
        "give numbers (1 for yes and 0 for no, if that is what they mean); a yes/no outcome "
        'of an A/B test is binary (metric_type = "binary"), and read as 1 and 0 there',
    ),
}
#: Rules whose fix depends on the column's meaning (the analysis says it).
SPECIFIC = ("binary", "positive", "nonnegative", "integer", "unit_interval")


def _examples(engine: Engine, where: Where, column: Column, rule: str) -> str:
    """The first offending rows (spreadsheet numbers) of a file; nothing for a query."""
    if not where.file:
        return ""
    import ibis

    rel = _relation(engine, where, rows=True)
    flags = dict(_violations(rel, column))
    picked = (
        rel.filter(flags[rule] == 1).order_by(ROW_COLUMN).select(ROW_COLUMN).limit(EXAMPLES + 1)
    )
    found = engine.execute(str(ibis.to_sql(picked, dialect=engine.backend)))[ROW_COLUMN]
    rows = ", ".join(str(int(r)) for r in found[:EXAMPLES])
    more = " and more" if len(found) > EXAMPLES else ""
    return f", in rows {rows}{more}"


def _check(
    engine: Engine, where: Where, part, counts: dict[str, np.ndarray], limit: int
) -> list[dict[str, Any]]:
    """Raise on the first broken rule; return notes on what was read another way.

    A binary column's yes/no answers are read as 1 and 0: that is a note, not a problem.
    """
    total = int(counts["__rows"][0])
    if total == 0:
        fix = "add its rows (it has a header only)" if where.file else "check the query's filters"
        raise Problem(where.label, "has no rows", fix)
    notes = []
    columns = _columns_of(part)
    for i, column in enumerate(columns):
        for rule in ("missing", "words", "non-numeric", *column.rules):
            found = counts.get(f"c{i}__{rule}")
            if found is None or not found[0]:
                continue
            if rule == "words" and _yes_no(column):
                notes.append(
                    {
                        "code": "yes_no_as_binary",
                        "column": column.name,
                        "key": column.key,
                        "rows": int(found[0]),
                    }
                )
                continue
            words, generic = RULE_WORDS[rule]
            fix = column.fix if rule in SPECIFIC else ""
            raise Problem(
                where.label,
                f"column '{column.name}' ({column.key}) has {int(found[0]):,} "
                f"{words}{_examples(engine, where, column, rule)}",
                fix or generic,
            )
    if isinstance(part, Rows) and total > limit:
        raise Problem(
            where.label,
            f"{total:,} rows exceed the row limit of {limit:,} for an analysis that reads rows",
            "raise max_rows in [settings], or filter or sample the rows in the query",
        )
    return notes
