"""What every analysis's figures share: the palette, interval labels, density curves.

Labels quote the interval with :func:`analyses.core.formats.ci_label` and probabilities with
:func:`analyses.core.formats.prob`, the same rules the prose follows. matplotlib is imported
when a figure is drawn, never when a config is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyses.core.formats import ci_label, prob

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PALETTE", "ci_label", "curve", "density", "new_figure", "prob", "shorten", "tidy"]

#: Colours in order of use: the control (grey) first, then the treatments and groups.
PALETTE = ("#4a5568", "#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#975a16")


def colour(i: int, skip_grey: bool = False) -> str:
    """The ``i``-th colour of the palette (optionally skipping the control's grey)."""
    offset = 1 if skip_grey else 0
    return PALETTE[offset + i % (len(PALETTE) - offset)]


def pyplot():
    """pyplot, drawing off-screen, with text shown as written.

    Labels quote arm, unit and metric names from the data and the config: ``$`` there is a
    price, not mathematics, so matplotlib's math parser is off.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    _measure_once()
    _lay_out_once()
    return plt


#: The settings a text's extents depend on besides its font's own properties (the fonts
#: found for its family, the glyphs of last resort, Agg's hinting and kerning).
_TEXT_SETTINGS = (
    "font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive",
    "font.fantasy", "font.enable_last_resort", "text.hinting", "text.hinting_factor",
    "text.kerning_factor",
)  # fmt: skip


def _measure_once() -> None:
    """Each text's extents measured once a process, not at every chart.

    matplotlib keeps the extents it measured per renderer, and every chart has new ones:
    a chart measured each of its texts twice (laid out by ``tight_layout`` with Agg,
    written as SVG with its glyphs as paths), about a fifth of its drawing, and a run's
    charts measured the same tick labels, axis titles and legends again and again. The
    extents depend on the text, the font's properties, the resolution, the font settings
    (:data:`_TEXT_SETTINGS`) and the fonts registered; each measure is memoised on those,
    in a memo of its own, for plain text only (the math parser is off: :func:`pyplot`).
    The charts are the same (the tests compare them with a process that measures every
    text).
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.textpath import TextToPath

    for owner in (RendererAgg, TextToPath):
        measure = owner.get_text_width_height_descent
        if not getattr(measure, "memoised", False):
            owner.get_text_width_height_descent = _memoised(measure)


def _memoised(measure):
    """``measure`` memoised, in a memo of its own.

    A measure replaced (by a test) and wrapped again never reads another's extents.
    """
    import functools

    import matplotlib
    from matplotlib.font_manager import fontManager

    extents: dict[tuple, tuple[float, float, float]] = {}

    @functools.wraps(measure)
    def memo(self, s, prop, ismath):
        if ismath is not False:
            return measure(self, s, prop, ismath)
        key = (
            s,
            tuple(prop.get_family()),
            prop.get_style(),
            prop.get_variant(),
            prop.get_weight(),
            prop.get_stretch(),
            prop.get_size_in_points(),
            prop.get_file(),
            getattr(self, "dpi", None),
            len(fontManager.ttflist),  # a font added may be the one found
            *(str(matplotlib.rcParams[k]) for k in _TEXT_SETTINGS),
        )
        found = extents.get(key)
        if found is None:
            found = extents[key] = measure(self, s, prop, ismath)
        return found

    memo.memoised = True
    return memo


def _lay_out_once() -> None:
    """Each text's glyphs laid out once a process for the SVG charts.

    A chart's SVG writes its texts as glyph outlines (``TextToPath.get_glyphs_with_font``):
    every text laid out glyph by glyph (libraqm, then FreeType loading each glyph), about a
    fifth of writing a chart, and a run's charts lay out the same tick labels, axis titles
    and legends again and again. :func:`_glyphs_memoised` keeps each layout and each glyph's
    outline. The charts are the same (the test that compares them with a process that
    measures every text compares them with one that lays out every text too).
    """
    from matplotlib.textpath import TextToPath

    lay_out = TextToPath.get_glyphs_with_font
    if not getattr(lay_out, "memoised", False):
        TextToPath.get_glyphs_with_font = _glyphs_memoised(lay_out)


def _glyphs_memoised(lay_out):
    """``TextToPath.get_glyphs_with_font`` memoised, in a memo of its own.

    Keyed on the font object (matplotlib's cache gives one per font file, hinting and
    kerning setting; the memo holds it, so its identity is never another's), the text, its
    font features and language, and the converter's scale and resolution: ``TextToPath``
    sets every font it lays out to that size first (its ``_get_font``). Returned as the
    original returns them: the layout's list, and the outlines of the glyphs not yet in
    ``glyph_map`` (new ones only, or added to it), in the order they first appear. Each
    glyph's outline is kept once (not once a text that has it), shared between calls and
    so read-only; at :data:`MEMO_TEXTS` texts the layouts are forgotten and memoised anew.
    """
    import functools
    from collections import OrderedDict

    layouts: dict[tuple, tuple[list, list]] = {}
    outlines: dict[tuple, tuple] = {}  # (font, glyph, scale, dpi) -> (vertices, codes)

    @functools.wraps(lay_out)
    def memo(
        self, font, s, glyph_map=None, return_new_glyphs_only=False, *, features=None, language=None
    ):
        at = (self.FONT_SCALE, self.DPI)  # the converter's scale and resolution
        key = (font, s, features, language, *at)
        try:
            found = layouts.get(key)
        except TypeError:  # features or language given as a list: not memoised
            return lay_out(
                self,
                font,
                s,
                glyph_map,
                return_new_glyphs_only,
                features=features,
                language=language,
            )
        if found is None:
            glyphs, drawn, rects = lay_out(self, font, s, features=features, language=language)
            for glyph, (vertices, codes) in drawn.items():
                if (font, glyph, *at) not in outlines:
                    vertices.flags.writeable = codes.flags.writeable = False
                    outlines[font, glyph, *at] = (vertices, codes)
            if len(layouts) >= MEMO_TEXTS:
                layouts.clear()
            found = layouts[key] = (glyphs, rects)
        glyphs, rects = found
        if glyph_map is None:
            glyph_map = OrderedDict()
        new = OrderedDict() if return_new_glyphs_only else glyph_map
        for glyph, *_ in glyphs:
            if glyph not in glyph_map and glyph not in new:
                new[glyph] = outlines[font, glyph, *at]
        return list(glyphs), new, list(rects)

    memo.memoised = True
    return memo


#: The most text layouts a process keeps (:func:`_glyphs_memoised`): about 20 MB at most
#: (a label of 17 characters takes 4.5 KB). A chart's repeated labels are laid out again
#: after each clearing; its numbers seldom repeat.
MEMO_TEXTS = 4_000


def new_figure(width: float = 7.0, height: float = 3.2) -> tuple[Figure, Axes]:
    """A figure and its axes, drawn off-screen."""
    return pyplot().subplots(figsize=(width, height))


def new_grid(rows: int, cols: int, width: float, height: float):
    """A figure with a grid of axes (always two-dimensional), drawn off-screen."""
    return pyplot().subplots(rows, cols, figsize=(width, height), squeeze=False)


#: A figure this wide (inches) with its smallest text at :data:`PHONE_TEXT` points shows
#: that text at 9 CSS px or more on a 390-px phone (355 px of content): 10 pt of 374 pt.
PHONE_WIDTH = 5.2
PHONE_TEXT = 10


def tidy(ax: Axes, keep_left: bool = False, legend: bool = False, legend_size: float = 8) -> None:
    """Remove the chart junk every readout figure leaves out."""
    spines = ["top", "right"] if keep_left else ["top", "right", "left"]
    ax.spines[spines].set_visible(False)
    if not keep_left:
        ax.set_yticks([])
    if legend:
        ax.legend(frameon=False, fontsize=legend_size)


#: Beyond this many bandwidths a draw's kernel is below e^-32 of its peak: left out.
KERNEL_REACH = 8.0
#: The binned density's lattice is at most this fraction of a bandwidth apart: linear
#: binning's error is then under 2e-4 of the curve's peak (tested against the exact sum).
BIN_FRACTION = 1 / 32


def kde(draws: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``draws`` on an evenly spaced ``grid``, Scott's bandwidth.

    What ``scipy.stats.gaussian_kde`` computes for one dimension, without importing
    ``scipy.stats`` (most of a second) to draw a curve, and binned as ArviZ's and
    statsmodels' density estimates are: the draws are shared linearly between the points of
    a lattice :data:`BIN_FRACTION` of a bandwidth apart that holds the grid, and the kernel
    is summed over the lattice by one convolution (a draw more than :data:`KERNEL_REACH`
    bandwidths beyond the grid adds nothing visible and is left out). A curve of 300 points
    from 4,000 draws costs a millisecond, not twenty; the exact sum is kept for a grid that
    is not evenly spaced, and where it is the cheaper (a grid far narrower than a bandwidth).
    """
    import numpy as np

    draws = np.asarray(draws, dtype=float)
    grid = np.asarray(grid, dtype=float)
    bandwidth = draws.std(ddof=1) * draws.size ** (-1 / 5)
    norm = draws.size * bandwidth * np.sqrt(2 * np.pi)
    step = (grid[-1] - grid[0]) / max(grid.size - 1, 1) if grid.size else 0.0
    finite = bool(np.isfinite(bandwidth) and bandwidth > 0 and np.isfinite(step) and step > 0)
    per_step = int(np.ceil(step / (BIN_FRACTION * bandwidth))) if finite else 0
    even = finite and np.allclose(np.diff(grid), step, rtol=1e-6, atol=0)
    delta = step / per_step if per_step else 0.0
    reach = int(np.ceil(KERNEL_REACH * bandwidth / delta)) if delta > 0 else 0
    size = (grid.size - 1) * per_step + 2 * reach + 3
    # A multiply-add of the convolution costs about a sixteenth of a kernel's exponential.
    if not even or not delta > 0 or size * (2 * reach + 1) > 16 * grid.size * draws.size:
        z = (grid[:, None] - draws[None, :]) / bandwidth  # the exact sum is the cheaper
        return np.exp(-0.5 * z**2).sum(axis=1) / norm
    start = grid[0] - (reach + 1) * delta  # the lattice: grid[0] + i * delta, i from -reach-1
    at = (draws - start) / delta
    at = at[(at >= 0) & (at <= size - 2)]
    low = np.floor(at).astype(int)
    share = at - low
    counts = np.bincount(low, 1 - share, size) + np.bincount(low + 1, share, size)
    offsets = np.arange(-reach, reach + 1) * (delta / bandwidth)
    summed = np.convolve(counts, np.exp(-0.5 * offsets**2), mode="same")
    return summed[reach + 1 : reach + 1 + (grid.size - 1) * per_step + 1 : per_step] / norm


#: The line of a density curve the chart is read by, and of one drawn beside it for
#: comparison (dotted and thinner, its interval not shaded): a programme-decided lift chart
#: draws the experiment's own estimate beside the one its verdict read.
READ_LINE = {"lw": 1.8}
BESIDE_LINE = {"lw": 1.2, "ls": ":"}


def curve(
    ax: Axes,
    grid: np.ndarray,
    dens: np.ndarray,
    interval: Sequence[float] | None,
    color: str,
    label: str | None,
    beside: bool = False,
) -> None:
    """A density curve on its grid with its interval shaded.

    The one way every density chart draws a curve, whether its density was estimated from
    draws (:func:`density`) or is known exactly. A curve ``beside`` the one the chart is read
    by is dotted and thinner and shades nothing (``interval`` may then be None).
    """
    ax.plot(grid, dens, color=color, label=label, **(BESIDE_LINE if beside else READ_LINE))
    if beside or interval is None:
        return
    inside = (grid >= interval[0]) & (grid <= interval[1])
    ax.fill_between(grid[inside], dens[inside], color=color, alpha=0.25, lw=0)


def density(
    ax: Axes,
    draws: np.ndarray,
    interval: Sequence[float] | None,
    color: str,
    label: str | None,
    beside: bool = False,
) -> None:
    """A kernel density of posterior draws with its interval shaded (see :func:`curve`).

    At most about 4,000 draws are read, on a grid over all but the outer 0.1%; draws that
    are all one value are a vertical line there.
    """
    import numpy as np

    draws = np.asarray(draws, dtype=float)
    draws = draws[:: max(1, draws.size // 4000)]
    grid = np.linspace(*np.quantile(draws, [0.0005, 0.9995]), 300)
    if np.ptp(draws) == 0:
        ax.axvline(draws[0], color=color, label=label, **(BESIDE_LINE if beside else READ_LINE))
        return
    curve(ax, grid, kde(draws, grid), interval, color, label, beside)


#: Names from the data longer than this are shortened in figures (labels, ticks, legends).
NAME_CHARS = 24


def shorten(name: str, limit: int = NAME_CHARS) -> str:
    """A name from the data as a figure shows it: at most ``limit`` characters.

    Longer names end in an ellipsis, so they neither overlap nor squeeze the plot (the
    tables and the CSV carry them in full).
    """
    name = str(name)
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


#: Characters a line of :data:`PHONE_TEXT` text holds across a :data:`PHONE_WIDTH` figure,
#: with room for the tick labels beside it (about 5.8 points a character).
PHONE_LINE = 50


def wrap(text: str, chars: int = PHONE_LINE) -> str:
    """An axis label on lines of at most ``chars`` characters (its own line breaks kept)."""
    import textwrap

    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


#: A name's line back to its point: dark and wide enough to follow across a phone's chart
#: (over the scatter, with a white edge where it crosses the coloured points).
LEADER_COLOUR = "#2d3748"
LEADER_WIDTH = 1.1


def _leader() -> dict:
    """The arrow properties of a name's line back to its point."""
    from matplotlib import patheffects

    return {
        "arrowstyle": "-",
        "color": LEADER_COLOUR,
        "lw": LEADER_WIDTH,
        "shrinkA": 1,
        "shrinkB": 3,  # stops at the point's marker, not over it
        "path_effects": [patheffects.withStroke(linewidth=LEADER_WIDTH + 1.6, foreground="white")],
    }


def label_points(
    ax: Axes,
    points: list[tuple[float, float, str]],
    fontsize: float = 7,
    gid: str = "point-label",
) -> list[str]:
    """Name points, leaving out any name that would overlap another.

    ``points`` come in order of priority. Each name is tried at a few places around its
    point (above right, below right, above left, below left, then one to three lines
    further up or down, with a line back to the point: :func:`_leader`) and kept at the first where
    its words' box lies inside the axes and clear of the names already placed and of the
    legend; a name with no such place is left out. Call after the axes' limits and the
    figure's layout are final; long names are best shortened first (:func:`shorten`).
    Each name's SVG group has the id ``<gid>-<i>``, its line's ``leader-<gid>-<i>``. Returns the
    names drawn.
    """
    if not points:
        return []
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    taken = []
    if ax.get_legend() is not None:
        taken.append(ax.get_legend().get_window_extent(renderer))
    line = fontsize * 1.25
    places = [
        (
            side * 3,
            up * (2 + k * line),
            "left" if side > 0 else "right",
            "bottom" if up > 0 else "top",
        )
        for k in range(4)
        for side in (1, -1)
        for up in (1, -1)
    ]
    drawn = []
    for x, y, text in points:
        for dx, dy, ha, va in places:
            far = abs(dy) > line
            note = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=fontsize,
                ha=ha,
                va=va,
                color="#1a202c",
                zorder=4,  # names above the points and above every line back to a point
            )
            # The words alone (an annotation's own extent reaches down its line to the point).
            note.update_positions(renderer)
            box = Text.get_window_extent(note, renderer).padded(1.5)
            within = (
                box.x0 >= inside.x0
                and box.x1 <= inside.x1
                and box.y0 >= inside.y0
                and box.y1 <= inside.y1
            )
            if within and not any(box.overlaps(other) for other in taken):
                note.set_gid(f"{gid}-{len(drawn)}")
                if far:  # its line, drawn beneath every name, from the name's near corner
                    lead = ax.annotate(
                        "",
                        (x, y),
                        xytext=(dx, dy),
                        textcoords="offset points",
                        ha=ha,
                        va=va,
                        arrowprops=_leader(),
                        zorder=3,
                    )
                    lead.arrow_patch.set_gid(f"leader-{gid}-{len(drawn)}")
                taken.append(box)
                drawn.append(text)
                break
            note.remove()
    return drawn


def finish(fig: Figure) -> Figure:
    """Lay out a finished figure, once.

    ``tight_layout`` leaves a placeholder layout engine on the figure, and matplotlib's
    ``savefig`` draws a figure that has one (any engine) a whole time before it draws it
    into the file, to lay it out: for a placeholder, a draw that changes nothing (7% of a
    programme morning's CPU). The engine is taken off: the figure is saved as laid out, the
    same file, drawn once (readout's matplotlib settings ask for no layout of their own).
    """
    fig.tight_layout()
    fig.set_layout_engine(None)  # rcParams do not ask for a layout: removes it
    return fig
