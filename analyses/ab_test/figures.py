"""The A/B analysis's figures.

The lift, the arms, the scorecard of every metric and the forecast of a verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyses.ab_test.decide import failed_checks
from analyses.ab_test.quantile import percentile_suffix
from analyses.ab_test.results import AbResults
from analyses.core import figures
from analyses.core.base import Fit
from analyses.core.results import given

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# --------------------------------------------------------------------------- figures


#: Characters a line of the legend above a phone-width lift chart holds: it starts at the
#: axes' left edge, after its key (measured: 56 lower-case characters fit, 30 px to spare).
LEGEND_LINE = 52
#: Inches a lift chart grows by for each line its legend has beyond the first.
LEGEND_LINE_HEIGHT = 0.18
#: Arms an arms chart's legend lists inside the plot, where it finds a free corner; with
#: more it sat on the curves (five arms, seen on a page), so it goes above, as the lift
#: chart's, and the chart grows by its height: this many inches an entry (measured, 10 pt;
#: more than a wrapped line within an entry, :data:`LEGEND_LINE_HEIGHT`). Arm names are
#: shortened to fit a line, so an entry is one line.
ARMS_INSIDE = 3
LEGEND_ENTRY_HEIGHT = 0.22


def _entry(pair: str, chance: str | None) -> str:
    """A lift chart's legend entry: the comparison and its chance ("97% above 0").

    The chance on the comparison's line where both fit, else on a line of its own: it is
    never split ("97% above" with its "0" a line below).
    """
    if chance is None:
        return figures.wrap(pair, LEGEND_LINE)
    if len(pair) + 2 + len(chance) <= LEGEND_LINE:
        return f"{pair}: {chance}"
    return f"{figures.wrap(pair + ':', LEGEND_LINE)}\n{chance}"


def _legend_lines(labels) -> int:
    """How many lines the legend above a lift chart takes for ``labels``, wrapped."""
    return sum(figures.wrap(label, LEGEND_LINE).count("\n") + 1 for label in labels)


def _lift_height(labels, base: float, lines: int = 1) -> float:
    """A lift chart's height: ``base`` inches with a legend of ``lines`` lines.

    Taller for more (wrapped long entries, many comparisons): the curves keep their height.
    """
    return base + LEGEND_LINE_HEIGHT * max(_legend_lines(labels) - lines, 0)


def _legend_above(ax) -> None:
    """The legend above the plot: at a phone's text size a legend inside would sit on the curves.

    Its long entries are wrapped: "high-income customers vs low-income customers: >99.9%
    above 0" ran off the figure's right edge, losing its "0".
    """
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles,
        [figures.wrap(label, LEGEND_LINE) for label in labels],
        frameon=False,
        fontsize=figures.PHONE_TEXT,
        loc="lower left",
        bbox_to_anchor=(0, 1),
        borderaxespad=0.2,
    )


def _lift_frame(ax, results: AbResults, relative: bool, interval: str) -> None:
    """What a lift chart draws around its curves: the zero line, the axis's words, the legend.

    One frame for the fit's lift chart and the one a programme-decided verdict redraws
    (:func:`programme_lift`), so the two read alike.
    """
    ax.axvline(0, color="black", lw=1, ls="--")
    binary = results.metric_type == "binary"
    word = "difference from the reference group" if results.observational else "lift over control"
    unit = "%" if relative else "percentage points" if binary else results.value_label
    # Wrapped: a long label centred under axes a wide legend narrowed ran off the left edge.
    label = f"{'Relative' if relative else 'Absolute'} {word} ({unit}); shaded: {interval}"
    ax.set_xlabel(figures.wrap(label))
    figures.tidy(ax)
    _legend_above(ax)


#: The charts a programme-decided verdict draws again with the programme's numbers
#: (:mod:`readout.programme.step`): a run that will have them redrawn leaves them to later.
REDRAWN = ("lift", "scorecard")


def plot(
    fit: Fit[AbResults], ci_prob: float, later: tuple[str, ...] = ()
) -> dict[str, Figure | None]:
    """Posterior of each arm's relative lift and of each arm's value.

    HDIs shaded; with several metrics, a scorecard of every metric's lift.

    The lift chart's legend marks the share of each curve above zero (the probability of
    being better, formatted as in the prose: never 0% or 100%), unless the verdict is
    withheld (``fit.verdict``): then no chance of being better is shown anywhere.
    ``later``: charts of :data:`REDRAWN` left to be drawn later (None in their place, in
    their order): by the programme's step, or from the saved draws by :func:`drawn_later`.
    """
    results = fit.results
    # What the verdict allows: a withheld verdict's charts show no chance of a finding (when
    # plotted before a verdict, the checks that would withhold it decide).
    withheld = (
        fit.verdict == "withheld"
        if fit.verdict is not None
        else bool(failed_checks(results, fit.diagnostics))
    )
    healthy = not withheld
    post = fit.posterior  # numpy draws (analyses.core.draws.Draws)
    out: dict[str, Figure | None] = {}
    if "lift" in later:
        out["lift"] = None
    else:
        variable, _ = _lift_read(results)
        lifts = {c.arm: post.values(variable, treatment=c.arm) for c in results.comparisons}
        out["lift"] = lift_chart(results, lifts, healthy, ci_prob)
    name = _namer(results)
    interval = figures.ci_label(ci_prob)
    binary = results.metric_type == "binary"
    names = [name(arm.name) for arm in results.arms]
    above = len(names) > ARMS_INSIDE
    height = 2.8 + (LEGEND_ENTRY_HEIGHT * len(names) if above else 0.0)
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, height)
    scale = 100 if binary else 1
    for i, (arm, arm_name) in enumerate(zip(results.arms, names, strict=True)):
        draws = post.values("value", arm=arm.name).ravel() * scale
        interval_arm = [h * scale for h in arm.hdi]
        figures.density(ax, draws, interval_arm, figures.colour(i), arm_name)
    label = results.value_label
    label = label[0].upper() + label[1:]
    ax.set_xlabel(f"{label} (%); shaded: {interval}" if binary else f"{label}; shaded: {interval}")
    figures.tidy(ax, legend=not above, legend_size=figures.PHONE_TEXT)
    if above:
        _legend_above(ax)
    out["arms"] = figures.finish(fig)
    if len(results.metrics) > 1:
        out["scorecard"] = None if "scorecard" in later else scorecard_figure(results, interval)
    if given(results.forecast) and results.forecast is not None and healthy:
        out["forecast"] = _forecast_figure(results, name)
    return out


def lift_chart(results: AbResults, lifts: dict, healthy: bool, ci_prob: float) -> Figure:
    """The fit's lift chart: each comparison's lift (``lifts``: its draws by treatment arm).

    The relative lift, or the absolute one where a control at 0 leaves it undefined, its
    HDI shaded; the legend gives each curve's share above zero unless the verdict is
    withheld (not ``healthy``).
    """
    import numpy as np

    name = _namer(results)
    word = "above" if results.metrics[0].higher_is_better else "below"
    entries = [
        _entry(
            f"{name(comp.arm)} vs {name(comp.vs)}",
            f"{figures.prob(comp.prob_better)} {word} 0" if healthy else None,
        )
        for comp in results.comparisons
    ]
    # Narrow enough, and its text large enough, to read on a phone (9 px at 390 px).
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, _lift_height(entries, 2.8))
    variable, scale = _lift_read(results)
    for i, (comp, label) in enumerate(zip(results.comparisons, entries, strict=True)):
        draws = np.asarray(lifts[comp.arm], dtype=float).ravel() * scale
        hdi = [h * scale for h in getattr(comp, variable).hdi]
        figures.density(ax, draws, hdi, figures.colour(i, skip_grey=True), label)
    _lift_frame(ax, results, variable == "lift_rel", figures.ci_label(ci_prob))
    return figures.finish(fig)


def _lift_read(results: AbResults) -> tuple[str, float]:
    """The lift a lift chart draws and its scale.

    Relative (in %), or absolute where a control at 0 leaves it undefined (percentage
    points for a binary metric).
    """
    if all(c.lift_rel is not None for c in results.comparisons):
        return "lift_rel", 100.0
    return "lift_abs", 100.0 if results.metric_type == "binary" else 1.0


def _namer(results: AbResults):
    """An arm's name as a chart shows it: its label, shortened to fit."""
    labels = results.arm_labels
    return lambda arm: figures.shorten(labels.get(arm, arm))


def drawn_later(results: AbResults, lifts: dict, ci_prob: float, keys) -> dict[str, Figure]:
    """The charts of ``keys`` (of :data:`REDRAWN`) a fit left to later, drawn as it would have.

    ``lifts``: the fit's relative lift draws by treatment arm (read back from its folder).
    A readout leaves them only with a verdict not withheld and relative lifts, so these
    are :func:`plot`'s own charts of that fit.
    """
    out = {}
    for key in keys:
        if key == "lift":
            out[key] = lift_chart(results, lifts, True, ci_prob)
        elif key == "scorecard":
            out[key] = scorecard_figure(results, figures.ci_label(ci_prob))
    return out


def programme_lift(results: AbResults, draws: dict, posts: dict, ci_prob: float) -> Figure:
    """The lift chart of a verdict the programme decided: the estimate the verdict read.

    Each primary comparison's programme posterior (``posts``: its mixture over
    ``log(1 + lift)``, drawn exactly) is the solid, shaded curve, labelled "given the
    programme" with its share above zero; the experiment's own curve (``draws`` of its
    relative lift) is dotted beside it, labelled "on its own". The curves and the frame are
    the fit's lift chart's (:func:`analyses.core.figures.density`, :func:`_lift_frame`); the
    figure is taller, for a legend of two lines a comparison.
    """
    import numpy as np

    name = _namer(results)
    word = "above" if results.metrics[0].higher_is_better else "below"
    shown = [c for c in results.comparisons if c.arm in posts and given(c.programme)]
    entries = {
        c.arm: (
            _entry(
                f"{name(c.arm)} vs {name(c.vs)} on its own",
                f"{figures.prob(c.prob_better)} {word} 0",
            ),
            _entry(
                f"{name(c.arm)} vs {name(c.vs)} given the programme",
                f"{figures.prob(c.programme.prob_better)} {word} 0",
            ),
        )
        for c in shown
    }
    height = _lift_height([e for pair in entries.values() for e in pair], 3.2, lines=2)
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, height)
    for i, comp in enumerate(results.comparisons):
        if comp.arm not in entries:
            continue
        colour = figures.colour(i, skip_grey=True)
        own_label, label = entries[comp.arm]
        own = np.asarray(draws[comp.arm], dtype=float).ravel() * 100
        figures.density(ax, own, None, colour, own_label, beside=True)
        found = comp.programme
        post = posts[comp.arm]
        sd = max(float(np.max(post.sds)), 1e-6)
        z = np.linspace(float(np.min(post.means)) - 5 * sd, float(np.max(post.means)) + 5 * sd, 400)
        lift = np.expm1(z) * 100
        dens = np.exp(post.log_pdf(z)) / np.exp(z) / 100  # per percent of lift
        hdi = [100 * h for h in found.hdi]
        figures.curve(ax, lift, dens, hdi, colour, label)
    _lift_frame(ax, results, True, figures.ci_label(ci_prob))
    return figures.finish(fig)


#: Verdicts in the forecast chart: order, colour and legend label.
FORECAST_BARS = (
    ("ship", "#2f855a", "ship"),
    ("keep_control", "#c53030", "keep control"),
    ("no_difference", "#4a5568", "no meaningful difference"),
)


def _forecast_figure(results: AbResults, name) -> Figure:
    """Stacked bars: the chance of each verdict after each horizon's more days."""
    horizons = results.forecast.horizons
    # With several treatments a ship may be of any of them.
    shipped = name(results.primary) if len(results.arms) == 2 else "a variant"
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 0.9 + 0.45 * len(horizons))
    rows = [f"+{h.days} days" for h in horizons]
    left = [0.0] * len(horizons)
    drawn = 0
    for verdict, colour, label in FORECAST_BARS:
        shares = [100 * h.verdicts.get(verdict, 0.0) for h in horizons]
        if max(shares) < 0.5:  # invisible at this scale; the total beside the bar counts it
            continue
        label = label.replace("ship", f"ship {shipped}")
        ax.barh(rows, shares, left=left, color=colour, height=0.55, label=label)
        left = [a + b for a, b in zip(left, shares, strict=True)]
        drawn += 1
    for y, total in enumerate(left):
        ax.text(total + 1, y, figures.prob(total / 100), va="center", fontsize=figures.PHONE_TEXT)
    ax.set_xlim(0, 112)
    ax.invert_yaxis()
    ax.set_xlabel("Chance of a clear answer (%)")
    # No bar is drawn when every answer is under half a percent: only the totals show.
    figures.tidy(ax, keep_left=True, legend=drawn > 0, legend_size=figures.PHONE_TEXT)
    return figures.finish(fig)


def scorecard_figure(results: AbResults, interval: str) -> Figure:
    """Every metric's relative lift of the headline arm with its HDI; guardrails' tolerances."""
    metrics = results.metrics
    arm = results.primary
    # Rows 0.42 in apart hold two lines of labels: six metrics print on page one at 8 pt.
    fig, ax = figures.new_figure(figures.PHONE_WIDTH, max(2.0, 0.85 + 0.42 * len(metrics)))
    for i, metric in enumerate(metrics):
        comp = next(c for c in metric.comparisons if c.arm == arm)
        y = len(metrics) - 1 - i
        if comp.lift_rel is None:  # a control at 0: no relative lift to draw
            ax.text(
                0.5,
                y,
                "relative lift not defined (control at 0)",
                transform=ax.get_yaxis_transform(),  # across the middle, whatever the lifts
                ha="center",
                va="center",
                fontsize=figures.PHONE_TEXT,
                color="#4a5568",
            )
            continue
        # Drawn in the good direction: a lower-is-better metric's lift with its sign turned,
        # so that right is better for every row (a slower page sits left, like a loss).
        good = 100 if metric.higher_is_better else -100
        low, high = sorted(good * h for h in comp.lift_rel.hdi)
        colour = figures.colour(i, skip_grey=True)
        ax.plot([low, high], [y, y], color=colour, lw=3)
        ax.plot(good * comp.lift_rel.mean, y, "o", color=colour)
        if metric.role == "guardrail":
            limit = -100 * metric.tolerated_harm
            ax.plot([limit, limit], [y - 0.35, y + 0.35], color="#9b2c2c", lw=1.5)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_ylim(-0.6, len(metrics) - 0.4)  # half a row clear above the top row and below
    ax.set_yticks(
        range(len(metrics)),
        [
            # Two lines: the label column stays narrow, the lifts keep the width.
            f"{m.label}{_percentile(m)}\n({m.role}"
            + ("" if m.higher_is_better else ", lower is better")
            + ")"
            for m in reversed(metrics)
        ],
    )
    # Right-aligned under the lifts: a long arm name runs left, under the labels, not off the
    # figure's right edge.
    ax.set_xlabel(
        f"Change of {arm} over the control (%),\ntoward better →; bar: {interval}", loc="right"
    )
    figures.tidy(ax, keep_left=True)
    return figures.finish(fig)


def _percentile(metric) -> str:
    """A quantile metric's percentile after its label (", p90"); nothing for other kinds."""
    return percentile_suffix(metric.kind, metric.quantile)
