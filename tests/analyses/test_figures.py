"""Figures quote probabilities and intervals by the same rules as the prose."""

import numpy as np
import pytest

from analyses import ab_test
from analyses.core.base import Fit, Settings
from analyses.core.formats import ci_label, prob
from tests.analyses import ab_inputs
from tests.processes import in_fresh_process

SPEC = ab_inputs.spec()


def ab_fit(prob_better: float, healthy: bool = True) -> Fit:
    """A real fit of two conversion rates, its chance of being better and its check set."""
    data = ab_inputs.arm_data({"A": (500, 5000), "B": (560, 5000)}, "Conversion rate")
    fit = ab_test.fit(SPEC, data, Settings(exact_draws=4000))
    comparison = fit.results.comparisons[0].model_copy(update={"prob_better": prob_better})
    srm = fit.results.srm.model_copy(update={"ok": healthy})
    results = fit.results.model_copy(update={"comparisons": (comparison,), "srm": srm})
    return Fit(results, fit.posterior, fit.diagnostics)


@pytest.mark.parametrize(("p", "shown"), [(0.996, "99.6%"), (0.9996, ">99.9%"), (0.5, "50%")])
def test_the_lift_legend_uses_the_prose_probability_formatter(p, shown):
    figure = ab_test.plot(ab_fit(p), 0.94)["lift"]
    (legend,) = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == f"B vs A: {shown} above 0"
    assert "100%" not in legend


def test_a_failed_health_check_shows_no_chance_in_the_legend():
    figure = ab_test.plot(ab_fit(0.98, healthy=False), 0.94)["lift"]
    (legend,) = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == "B vs A"


def test_the_lift_legend_follows_the_verdict_it_was_drawn_for():
    # The runner hands plot the verdict: withheld shows no chance, whatever the checks say.
    from dataclasses import replace

    withheld = ab_test.plot(replace(ab_fit(0.98), verdict="withheld"), 0.94)["lift"]
    assert [t.get_text() for t in withheld.axes[0].get_legend().get_texts()] == ["B vs A"]
    shipped = ab_test.plot(replace(ab_fit(0.98), verdict="ship"), 0.94)["lift"]
    assert [t.get_text() for t in shipped.axes[0].get_legend().get_texts()] == [
        "B vs A: 98% above 0"
    ]


def test_axis_labels_quote_the_configured_interval():
    figures = ab_test.plot(ab_fit(0.9), 0.9)
    for figure in figures.values():
        label = figure.axes[0].get_xlabel()
        assert "90% HDI" in label and "94%" not in label


def test_one_formatter_never_prints_certainty():
    assert prob(1.0) == ">99.9%" and prob(0.0) == "<0.1%"
    assert ci_label(0.89) == "89% HDI"


@pytest.mark.parametrize(
    "shape",
    ["normal", "gamma", "lognormal", "student_t_2", "two_peaks", "five_values", "few_draws"],
)
def test_the_density_curve_is_scipys_gaussian_kde(shape):
    """The binned density (as the charts draw it: 300 points over all but the outer 0.1%,
    and a wider grid) lies within 2e-4 of the peak of ``scipy.stats.gaussian_kde``'s exact
    sum, on draws of every shape a posterior takes; an uneven grid gets the exact sum."""
    from scipy.stats import gaussian_kde

    from analyses.core import figures

    rng = np.random.default_rng(5)
    draws = {
        "normal": lambda: rng.normal(0.05, 0.02, 4000),
        "gamma": lambda: rng.gamma(3.0, 1.0, 3000),
        "lognormal": lambda: rng.lognormal(0.0, 2.0, 4000),
        "student_t_2": lambda: rng.standard_t(2, 4000),
        "two_peaks": lambda: np.r_[rng.normal(0, 0.01, 2000), rng.normal(1, 0.01, 2000)],
        "five_values": lambda: rng.integers(0, 5, 4000).astype(float),
        "few_draws": lambda: rng.normal(0, 1, 40),
    }[shape]()
    exact = gaussian_kde(draws)
    for grid in (
        np.linspace(*np.quantile(draws, [0.0005, 0.9995]), 300),
        np.linspace(draws.min() - 1, draws.max() + 1, 50),
    ):
        binned = figures.kde(draws, grid)
        assert np.max(np.abs(binned - exact(grid))) < 2e-4 * exact(grid).max()
    uneven = np.sort(rng.choice(draws, 40))
    assert figures.kde(draws, uneven) == pytest.approx(exact(uneven), rel=1e-9)


def test_a_density_of_draws_with_an_infinite_one_is_drawn_as_nothing_not_an_error():
    """A draw that is infinite leaves no bandwidth: the curve is not a number (matplotlib
    draws nothing), as the exact sum gave, and the readout is still written."""
    from analyses.core import figures

    draws = np.r_[np.random.default_rng(3).normal(0, 1, 3999), np.inf]
    grid = np.linspace(*np.quantile(draws, [0.0005, 0.9995]), 300)
    with np.errstate(invalid="ignore"):  # numpy's own warning of the infinite draw
        assert np.isnan(figures.kde(draws, grid)).all()


def test_long_unit_and_group_names_are_shortened_and_stay_inside_the_figure():
    """Long names from the data once ran off the shrinkage plot and squeezed its axes to a
    sliver (the legend and the labels, laid out before they were drawn): every text now lies
    inside its figure, no two point labels overlap, and the axes keep most of the width."""
    from matplotlib.text import Text

    from analyses import hierarchical
    from analyses.core.base import Settings
    from analyses.core.figures import NAME_CHARS
    from tests.analyses.test_hierarchical import simulated, spec

    units = simulated(n_groups=4, per_group=15)
    units.unit = np.array([f"{u}: The Extremely Long Channel Name" for u in units.unit], object)
    units.group = np.array([f"{g}, a genre with a long descriptive name" for g in units.group])
    fit = hierarchical.fit(spec(group="group"), units, Settings(seed=1))
    figures = hierarchical.plot(fit, 0.94)
    for key in ("shrinkage", "groups"):
        fig = figures[key]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        frame = fig.bbox
        (ax,) = fig.axes
        # Everything the axes draw (ticks, labels, legend, point labels) inside the figure.
        drawn = [ax.get_tightbbox(renderer)]
        drawn += [t.get_window_extent(renderer) for t in ax.texts]
        if ax.get_legend() is not None:
            drawn += [t.get_window_extent(renderer) for t in ax.get_legend().get_texts()]
        for box in drawn:
            assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, (key, box)
            assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, (key, box)
        assert ax.get_position().width > (0.6 if key == "shrinkage" else 0.45), key
    shrinkage = figures["shrinkage"]
    labels = [t for t in shrinkage.axes[0].texts if t.get_text()]
    assert labels and all(len(t.get_text()) <= NAME_CHARS for t in labels)
    assert all(t.get_text().endswith("\u2026") for t in labels)
    # The text of each label (an annotation's own extent includes its line to the point).
    renderer = shrinkage.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), "two unit labels overlap"
    legend = shrinkage.axes[0].get_legend()
    assert all(len(t.get_text()) <= NAME_CHARS for t in legend.get_texts())


def test_the_scorecard_draws_every_metric_toward_better():
    """A slower page (a lower-is-better metric going up) sits left of zero, like a loss."""
    import json
    from pathlib import Path

    import matplotlib.pyplot as plt

    from analyses.ab_test.figures import scorecard_figure
    from readout import bundle as bundles

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "search-ranking.json"
    typed = bundles.typed(json.loads(path.read_text()))
    fig = scorecard_figure(typed, "94% HDI")
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    rows = list(reversed(typed.metrics))  # drawn bottom-up
    for metric in rows:
        comp = next(c for c in metric.comparisons if c.arm == typed.primary)
        y = rows.index(metric)
        x = next(d.get_xdata()[0] for d in dots if d.get_ydata()[0] == y)
        better = comp.lift_rel.mean * (1 if metric.higher_is_better else -1)
        assert x == pytest.approx(100 * better)
    load_time = next(m for m in typed.metrics if m.name == "load_time")
    assert not load_time.higher_is_better
    assert next(c for c in load_time.comparisons if c.arm == typed.primary).lift_rel.mean > 0
    plt.close(fig)


def _contrast(colour: str) -> float:
    """The WCAG contrast ratio of ``colour`` (``#rrggbb``) against white."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_a_far_names_line_back_to_its_point_is_dark_and_wide_enough_to_follow():
    """Issue 23: a name placed lines away from its point (a crowded shrinkage chart) has a
    line back to it that a phone's reader can follow: at least 1 pt wide (about 1 px at
    390 px), at least 7:1 against white, with a white edge where it crosses the points."""
    import io
    import re

    from analyses.core import figures

    fig, ax = figures.new_figure(figures.PHONE_WIDTH, 3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    crowded = [(0.5, 0.5, f"hip-hop-0{i}") for i in range(6)]
    assert len(figures.label_points(ax, crowded, figures.PHONE_TEXT, "unit-label")) == 6
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    figures.pyplot().close(fig)
    leaders = re.findall(r'<g id="leader-unit-label-\d+">(.*?)</g>', buffer.getvalue(), re.S)
    assert leaders  # four names sit beside the point; the others are lines away
    for leader in leaders:
        strokes = re.findall(r"stroke: (#[0-9a-f]{6}); stroke-width: ([0-9.]+)", leader)
        (edge, edge_width), (colour, width) = strokes
        assert float(width) >= 1.0 and _contrast(colour) >= 7, strokes
        assert edge == "#ffffff" and float(edge_width) > float(width), strokes


def test_the_scorecards_metric_names_never_overlap():
    """Six metrics, the primary's name as long as the programme makes it, rows drawn close
    enough to print on page one: no two metric names' boxes overlap."""
    import json
    from pathlib import Path

    from analyses.ab_test.figures import scorecard_figure
    from analyses.core import figures
    from readout import bundle as bundles

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "search-ranking.json"
    typed = bundles.typed(json.loads(path.read_text()))
    primary = typed.metrics[0].model_copy(
        update={"label": typed.metrics[0].label + " given the programme"}
    )
    load_time = next(m for m in typed.metrics if m.name == "load_time")
    p90 = load_time.model_copy(update={"name": "load_p90", "kind": "quantile", "quantile": 0.9})
    typed = typed.model_copy(update={"metrics": (primary, *typed.metrics[1:], p90)})
    assert len(typed.metrics) == 6
    fig = scorecard_figure(typed, "94% HDI")
    fig.canvas.draw()  # laid out as saved
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels()]
    figures.pyplot().close(fig)
    assert len(boxes) == 6
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]


@pytest.mark.parametrize("observational", [False, True])
def test_every_word_of_the_lift_chart_lies_inside_it(observational):
    """An observational comparison's long axis label ("difference from the reference group")
    under a wide legend ran off the figure's left edge (income-spend); now wrapped. So does
    a long legend ("... customers: >99.9% above 0" ran off the right edge)."""
    from analyses.core import figures as figures_module

    data = ab_inputs.arm_data({"low-income": (500, 5000), "high-income": (700, 5000)})
    spec = ab_inputs.spec(control="low-income", observational=observational)
    fit = ab_test.fit(spec, data, Settings(exact_draws=2000))
    labels = {"low-income": "low-income customers", "high-income": "high-income customers"}
    results = fit.results.model_copy(update={"arm_labels": labels})
    figure = ab_test.plot(Fit(results, fit.posterior, fit.diagnostics), 0.94)["lift"]
    figure.canvas.draw()  # laid out: the legend's texts are placed (at 0, 0 before)
    renderer = figure.canvas.get_renderer()
    inside = figure.bbox
    ax = figure.axes[0]
    for text in [ax.xaxis.label, *ax.get_legend().get_texts()]:
        box = text.get_window_extent(renderer)
        assert box.x0 >= inside.x0 - 0.5 and box.x1 <= inside.x1 + 0.5, text.get_text()
        assert box.y1 <= inside.y1 + 0.5, text.get_text()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["high-income customers vs low-income customers:\n>99.9% above 0"]
    figures_module.pyplot().close(figure)


def test_a_long_legend_of_many_arms_stays_inside_and_the_curves_keep_their_height():
    """Four treatments with long names: each name shortened, each entry wrapped, the chart
    taller for the legend's lines, so that every word lies inside it and its axes keep the
    height a one-line legend leaves them (a fixed height once squeezed them to 25 px)."""
    from analyses.core import figures as figures_module

    arms = ["control", "t1", "t2", "t3", "t4"]
    data = ab_inputs.arm_data({a: (500 + 40 * i, 5000) for i, a in enumerate(arms)})
    spec = ab_inputs.spec(control="control")
    fit = ab_test.fit(spec, data, Settings(exact_draws=2000))
    labels = {a: f"the {a} variant of the checkout page, redesigned" for a in arms}
    results = fit.results.model_copy(update={"arm_labels": labels})
    one = ab_test.plot(ab_fit(0.9), 0.94)["lift"]  # "B vs A: 90% above 0"
    figure = ab_test.plot(Fit(results, fit.posterior, fit.diagnostics), 0.94)["lift"]
    for fig in (one, figure):
        fig.canvas.draw()
    renderer = figure.canvas.get_renderer()
    inside = figure.bbox
    ax = figure.axes[0]
    texts = ax.get_legend().get_texts()
    assert len(texts) == 4
    for text in [ax.xaxis.label, *texts]:
        box = text.get_window_extent(renderer)
        assert box.x0 >= inside.x0 - 0.5 and box.x1 <= inside.x1 + 0.5, text.get_text()
        assert box.y1 <= inside.y1 + 0.5, text.get_text()
        assert len(text.get_text().split("\n")[0]) <= 52
    assert all("\u2026" in t.get_text() for t in texts)  # the names shortened
    heights = [f.axes[0].get_position().height * f.get_figheight() for f in (one, figure)]
    assert heights[1] >= 0.9 * heights[0], heights
    figures_module.pyplot().close(one)
    figures_module.pyplot().close(figure)


def test_a_legend_entrys_chance_is_never_split_across_lines():
    """A comparison a little too long for one line with its chance: the chance moves to a
    line of its own, whole ("... given the programme: 69% above" with "0" alone below, once)."""
    from analyses.core import figures as figures_module

    fit = ab_fit(0.98)
    labels = {"A": "the control group", "B": "the new checkout pages"}
    results = fit.results.model_copy(update={"arm_labels": labels})
    figure = ab_test.plot(Fit(results, fit.posterior, fit.diagnostics), 0.94)["lift"]
    (legend,) = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == "the new checkout pages vs the control group:\n98% above 0"
    figures_module.pyplot().close(figure)


def test_the_arms_chart_of_many_arms_has_its_legend_above_the_curves():
    """Five arms: the legend inside the plot sat on the curves (seen on a page); above the
    plot, as the lift chart's, each entry inside the figure, the curves keeping their
    height. Two arms keep theirs inside, in a free corner."""
    from analyses.core import figures as figures_module

    arms = ["control", "treatment one", "treatment two", "treatment three", "treatment four"]
    data = ab_inputs.arm_data({a: (500 + 20 * i, 5000) for i, a in enumerate(arms)})
    fit = ab_test.fit(ab_inputs.spec(control="control"), data, Settings(exact_draws=2000))
    two = ab_test.plot(ab_fit(0.9), 0.94)["arms"]
    five = ab_test.plot(fit, 0.94)["arms"]
    for fig in (two, five):
        fig.canvas.draw()
    renderer = five.canvas.get_renderer()
    ax = five.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == arms
    plot_area = ax.get_window_extent(renderer)
    box = legend.get_window_extent(renderer)
    assert box.y0 >= plot_area.y1 - 0.5  # above the curves
    for text in legend.get_texts():
        extent = text.get_window_extent(renderer)
        assert five.bbox.x0 - 0.5 <= extent.x0 and extent.x1 <= five.bbox.x1 + 0.5
        assert extent.y1 <= five.bbox.y1 + 0.5
    heights = [f.axes[0].get_position().height * f.get_figheight() for f in (two, five)]
    assert 0.9 * heights[0] <= heights[1] <= 1.1 * heights[0], heights
    inside = two.axes[0].get_legend().get_window_extent(two.canvas.get_renderer())
    assert two.axes[0].get_window_extent(two.canvas.get_renderer()).contains(inside.x0, inside.y0)
    figures_module.pyplot().close(two)
    figures_module.pyplot().close(five)


def _svg(figure) -> str:
    import io

    from tests.readout.running import without_random_ids

    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return without_random_ids(out.getvalue())


#: Draws the A/B charts of two fits, then the first's again, and prints them: in a fresh
#: process, with pyplot imported without its ``set`` docstrings and with the memos of text
#: extents and glyph layouts (the second drawing reads every extent and layout from them) or
#: without (``measured``: matplotlib imported plainly, measuring and laying out every text of
#: every chart).
_DRAW = """
import json, sys
from analyses.core import figures
if sys.argv[1] == "measured":
    figures._measure_once = figures._lay_out_once = figures._import_pyplot = lambda: None
from analyses import ab_test
from tests.analyses.test_figures import _svg, ab_fit
fits = [ab_fit(0.97), ab_fit(0.5, healthy=False)]
print(json.dumps([[_svg(f) for f in ab_test.plot(fit, 0.94).values()] for fit in fits + fits[:1]]))
"""


def test_charts_measured_once_a_process_are_those_measured_at_every_text():
    """The memos of text extents and glyph layouts (``figures._measure_once``,
    ``figures._lay_out_once``) and pyplot's import without docstrings
    (``figures._import_pyplot``) change no chart."""
    memoised = in_fresh_process(_DRAW, "memoised")
    assert len(memoised) == 3 and all(len(charts) >= 2 for charts in memoised)
    assert memoised == in_fresh_process(_DRAW, "measured")


#: In a fresh process, pyplot imported by ``figures.pyplot`` (``quick``) or plainly: what its
#: artists' ``set`` methods carry, and what an artist class made afterwards carries.
_IMPORTED = """
import inspect, json, sys
if sys.argv[1] == "quick":
    from analyses.core import figures
    figures.pyplot()
else:
    import matplotlib.pyplot
from matplotlib import _docstring, artist
from matplotlib.lines import Line2D

class Later(artist.Artist):
    pass

line = Line2D([0, 1], [0, 1])
line.set(linewidth=3, color="red")
print(json.dumps({
    "documented": "Supported properties" in (Line2D.set.__doc__ or ""),
    "signed": "linewidth" in inspect.signature(Line2D.set).parameters,
    "marked": hasattr(Line2D.set, "_autogenerated_signature"),
    "set": [line.get_linewidth(), line.get_color()],
    "later": "Supported properties" in (Later.set.__doc__ or ""),
    "kwdoc": "linewidth" in artist.kwdoc(Line2D),
    "table": "linewidth" in _docstring.interpd.params["Line2D:kwdoc"],
}))
"""


def test_pyplot_is_imported_without_set_docstrings_and_matplotlib_is_put_back():
    """``figures._import_pyplot``: the artists' ``set`` signatures and docstrings are not
    built (a plain import builds them), ``set`` works the same, and matplotlib's own
    functions are back after the import (a class made then is documented, and the property
    table a later docstring would quote is whole)."""
    plain, quick = (in_fresh_process(_IMPORTED, how) for how in ("plain", "quick"))
    assert plain["documented"] and plain["signed"]
    assert not quick["documented"] and not quick["signed"]
    for found in (plain, quick):
        assert found["marked"] and found["later"] and found["kwdoc"] and found["table"]
        assert found["set"] == [3, "red"]


def test_a_finished_chart_is_drawn_once_when_saved_and_as_it_was_drawn_twice(monkeypatch):
    """``figures.finish`` takes the layout engine ``tight_layout`` leaves off: ``savefig``
    drew a figure with one a whole time before drawing it into the file."""
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from analyses.core import figures as figures_module

    fit = ab_fit(0.97)
    once, twice = ab_test.plot(fit, 0.94), ab_test.plot(fit, 0.94)
    assert once.keys() == twice.keys() and len(once) >= 2
    draws = []
    original = Figure.draw
    monkeypatch.setattr(
        Figure, "draw", lambda fig, renderer: draws.append(fig) or original(fig, renderer)
    )
    for key, figure in once.items():
        assert figure.get_layout_engine() is None
        before = twice[key]  # as finished before: tight_layout's placeholder engine left on
        before.set_layout_engine(PlaceHolderLayoutEngine(True, True))
        draws.clear()
        saved = _svg(figure)
        assert draws == [figure], key
        draws.clear()
        assert saved == _svg(before), key
        assert draws == [before, before], key
        figures_module.pyplot().close(figure)
        figures_module.pyplot().close(before)


def test_the_memo_of_text_extents_tells_fonts_sizes_and_resolutions_apart():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    from analyses.core import figures

    figures.pyplot()
    path, low, high = TextToPath(), RendererAgg(100, 100, 72), RendererAgg(100, 100, 150)
    plain = FontProperties(size=10)
    extents = {
        "plain": path.get_text_width_height_descent("+5%", plain, False),
        "bigger": path.get_text_width_height_descent("+5%", FontProperties(size=12), False),
        "bold": path.get_text_width_height_descent(
            "+5%", FontProperties(size=10, weight="bold"), False
        ),
        "longer": path.get_text_width_height_descent("+5.0%", plain, False),
        "agg 72 dpi": low.get_text_width_height_descent("+5%", plain, False),
        "agg 150 dpi": high.get_text_width_height_descent("+5%", plain, False),
    }
    assert len(set(extents.values())) == len(extents)
    unmemoised = TextToPath.get_text_width_height_descent.__wrapped__
    assert extents["bold"] == unmemoised(path, "+5%", FontProperties(size=10, weight="bold"), False)
    plain.set_size(12)  # a font changed in place is measured anew
    assert path.get_text_width_height_descent("+5%", plain, False) == extents["bigger"]


def test_the_memo_of_glyph_layouts_returns_what_matplotlib_lays_out(monkeypatch):
    """New glyphs only or added to the map, repeated glyphs, fonts and features told apart;
    the same once the memo has been cleared (it holds :data:`figures.MEMO_TEXTS` texts)."""
    from collections import OrderedDict

    import numpy as np
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    from analyses.core import figures

    figures.pyplot()
    lay_out = TextToPath.get_glyphs_with_font
    assert lay_out.memoised
    unmemoised = lay_out.__wrapped__
    path = TextToPath()
    plain, bold = path._get_font(FontProperties()), path._get_font(FontProperties(weight="bold"))

    def same_outlines(a: dict, b: dict) -> bool:
        return list(a) == list(b) and all(
            np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) for k in a
        )

    for font in (plain, bold):
        for text in ("control", "treatment +5%", "ee"):
            for known in ("", "t"):  # no glyph map, or one that already holds the t
                for new_only in (True, False):
                    for features in (None, ("-kern",)):
                        maps = []
                        for how in (lay_out, unmemoised):
                            glyph_map = OrderedDict() if known else None
                            if known:
                                unmemoised(path, font, known, glyph_map)
                            glyphs, new, rects = how(
                                path, font, text, glyph_map, new_only, features=features
                            )
                            maps.append((glyphs, new, rects, glyph_map))
                        (glyphs, new, rects, glyph_map), theirs = maps
                        assert glyphs == theirs[0] and rects == theirs[2]
                        assert same_outlines(new, theirs[1])
                        assert glyph_map is None or same_outlines(glyph_map, theirs[3])
                        assert (new is glyph_map) == (theirs[1] is theirs[3])
    # a font of another weight lays out other glyphs
    assert lay_out(path, plain, "Ship")[0] != lay_out(path, bold, "Ship")[0]
    monkeypatch.setattr(figures, "MEMO_TEXTS", 3)
    texts = [f"+{i}.5%" for i in range(8)] * 2  # cleared twice, then read from the memo
    laid_out = [lay_out(path, plain, text, None, True) for text in texts]
    for text, (glyphs, new, _) in zip(texts, laid_out, strict=True):
        theirs = unmemoised(path, plain, text, None, True)
        assert glyphs == theirs[0] and same_outlines(new, theirs[1])
    # the outlines it keeps cannot be changed by a caller
    outline = next(iter(lay_out(path, plain, "A", None, True)[1].values()))[0]
    assert not outline.flags.writeable
