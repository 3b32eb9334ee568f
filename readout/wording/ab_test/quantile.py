"""Words for quantile metrics (``kind = "quantile"``, issue 27).

A quantile metric is named by what it is: "90th percentile of each user's average page load
time", not by its config label alone, wherever a sentence, a table or a caption names it
(:func:`with_quantile_names`); a note says what the percentile means and how its interval was
made (:func:`quantile_note`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyses.core.inputs import HISTOGRAM_ACCURACY
from readout.wording.numbers import width

if TYPE_CHECKING:
    from analyses.ab_test.results import AbBundle, Metric

#: What a unit's value is, by the metric's ``aggregate``: each user's *average* page load.
AGGREGATE_WORDS = {"mean": "average ", "sum": "total ", "count": "number of "}


def ordinal(q: float) -> str:
    """A quantile as a percentile's ordinal: 0.9 is "90th", 0.995 "99.5th", 0.01 "1st"."""
    pct = round(100 * q, 4)
    text = f"{pct:g}"
    if pct != int(pct):
        return f"{text}th"
    n = int(pct)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _aggregate(bundle: AbBundle, name: str) -> str:
    for metric in bundle.spec.get("metrics") or ():
        if metric.get("name") == name:
            return AGGREGATE_WORDS.get(metric.get("aggregate", ""), "")
    return ""


def quantile_name(bundle: AbBundle, metric: Metric) -> str:
    """The metric's full name: 90th percentile of each user's average page load time.

    Named once, never twice (wording may prepare a bundle more than once).
    """
    if metric.label.startswith(f"{ordinal(metric.quantile)} percentile of each "):
        return metric.label
    unit = bundle.unit_label if bundle.unit_label else "user"
    return (
        f"{ordinal(metric.quantile)} percentile of each {unit}'s "
        f"{_aggregate(bundle, metric.name)}{metric.label}"
    )


def with_quantile_names(bundle: AbBundle) -> AbBundle:
    """The bundle with each quantile metric's label made its full name (for wording only)."""
    metrics = bundle.metrics
    if not any(m.kind == "quantile" for m in metrics):
        return bundle
    named = tuple(
        m.model_copy(update={"label": quantile_name(bundle, m)}) if m.kind == "quantile" else m
        for m in metrics
    )
    return bundle.model_copy(update={"metrics": named})


def quantile_note(bundle: AbBundle, metric: Metric) -> str:
    """What the percentile means, its values per arm, and how its interval was made.

    ``metric`` is named already (:func:`with_quantile_names`).
    """
    from readout.wording.ab_test.common import metric_units, units_word

    units = metric_units(metric)
    share = round(100 * metric.quantile, 4)
    rest = round(100 - share, 4)
    values = ", ".join(
        f"{units.value(a.mean, units.places(width(a)))} for {a.name}" for a in metric.arms
    )
    many = units_word(bundle)
    bin_width = 2 * HISTOGRAM_ACCURACY  # a bin's values lie within this of each other
    return (
        f"The {metric.label} is the value that {share:g}% of {many} stay at or below and "
        f"{rest:g}% exceed: here {values}. Each {units_word(bundle, False)} counts once, "
        "however many events they had, so the interval allows for one person's events being "
        f"alike (a Bayesian bootstrap over {many}); the warehouse sorted the {many}' values "
        f"into bins {bin_width:.1%} wide, so these percentiles are exact to about {bin_width:.1%}."
    )
