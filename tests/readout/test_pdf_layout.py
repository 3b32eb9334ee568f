"""The layout a reader sees: the emailed PDF's pages, and the charts on a phone.

The PDF is read from the PDF itself: the main chart on page one, no page mostly empty. The
HTML is read in Chromium at 390 px wide: no chart text under 9 CSS px.

The demo's readouts are run for real (every analysis; among them the warehouse's
multi-metric A/B tests and a single-metric file), then each PDF is read page by page with
poppler: ``pdftotext`` for the words on a page, ``pdftoppm`` for how far down its content
reaches. An A/B readout's main chart is the scorecard chart when there are several metrics
(the primary metric's own chart and tables repeat its row and stay in the HTML), the lift
chart otherwise; its caption and a drawing in colour must be on page one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from readout import bundle as bundles
from readout import wording
from readout.cli import main
from tests.pdf import pdf_pages

ROOT = Path(__file__).resolve().parents[2]
POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm")
#: A page is mostly empty when its content reaches less than this share of the space between
#: the running header and footer (A4: 20 mm top and 18 mm bottom margins).
MOSTLY_EMPTY = 0.25
TOP, BOTTOM = 20 / 297, 18 / 297
#: The demo's A/B readouts whose main chart is checked: several metrics (five, and two) and one.
EXPERIMENTS = ("checkout-redesign", "paywall", "search-ranking", "signup-page")
#: The demo's other analyses and their main chart (a hierarchical one: its groups' chart,
#: the shrinkage chart where the units have no groups).
OTHERS = {
    "creator-pricing": "groups",
    "eight-schools": "shrinkage",
    "three-groups": "fit",
    "topic-share": "coefficients",
}
#: Every demo readout (every analysis), whose pages and chart text are checked.
ALL = tuple(
    e["name"] for e in tomllib.loads((ROOT / "experiments.toml").read_text())["experiments"]
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdftoppm) not installed"),
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copy(ROOT / "experiments.toml", root / "experiments.toml")
    (root / "data").symlink_to(ROOT / "data")
    args = ["run", "--config", str(root / "experiments.toml"), "--output", str(root / "reports")]
    result = CliRunner().invoke(main, [*args, "--as-of", "2026-11-30"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "reports"


def page_texts(pdf: Path) -> list[str]:
    return [re.sub(r"\s+", " ", page) for page in pdf_pages(pdf)]


def page_images(pdf: Path, folder: Path) -> list[np.ndarray]:
    """Each page as an RGB array at 30 dpi."""
    subprocess.run(["pdftoppm", "-r", "30", str(pdf), str(folder / "p")], check=True)
    images = []
    for ppm in sorted(folder.glob("p-*.ppm")):
        data = ppm.read_bytes()
        magic, size, depth, pixels = data.split(maxsplit=3)
        width, height = int(size), int(depth)  # "P6 W H 255" then the pixels
        images.append(
            np.frombuffer(pixels[-width * height * 3 :], np.uint8).reshape(height, width, 3)
        )
    return images


def fill(image: np.ndarray) -> float:
    """How far down the space between header and footer the page's content reaches."""
    height = image.shape[0]
    body = image[round(height * TOP) : round(height * (1 - BOTTOM))]
    dark = np.nonzero((body.min(axis=2) < 200).any(axis=1))[0]
    return (dark.max() + 1) / body.shape[0] if dark.size else 0.0


def coloured(image: np.ndarray) -> int:
    """Pixels of a saturated colour (a chart's marks; text and tints are grey or pale)."""
    rgb = image.astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 90).sum())


def _readout(reports: Path, name: str) -> Path:
    return sorted((reports / name).glob("2*"))[-1]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_main_chart_is_on_page_one(reports, name, tmp_path):
    folder = _readout(reports, name)
    bundle = bundles.read(folder / "bundle.json")
    main_chart = "scorecard" if len(bundle["metrics"]) > 1 else "lift"
    caption = wording.readout_text(bundle).figures[main_chart].caption
    pages = page_texts(folder / "report.pdf")
    first = pages[0]
    assert re.sub(r"\s+", " ", caption)[:60] in first, (main_chart, first[-600:])
    # The chart's marks (a page of text and tinted boxes has none at this threshold).
    assert coloured(page_images(folder / "report.pdf", tmp_path)[0]) > 20
    if main_chart == "scorecard":  # the primary metric's own tables repeat its row: HTML only
        text = " ".join(pages)
        assert "Each arm against the control" not in text and "Each arm on its own" not in text
        html = (folder / "report.html").read_text()
        assert "Each arm against the control" in html and "Each arm on its own" in html


@pytest.mark.parametrize("name", OTHERS)
def test_the_other_analyses_main_chart_is_on_page_one(reports, name, tmp_path):
    folder = _readout(reports, name)
    bundle = bundles.read(folder / "bundle.json")
    caption = wording.readout_text(bundle).figures[OTHERS[name]].caption
    first = page_texts(folder / "report.pdf")[0]
    assert re.sub(r"\s+", " ", caption)[:60] in first, (OTHERS[name], first[-600:])
    assert coloured(page_images(folder / "report.pdf", tmp_path)[0]) > 20


def label_boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """Each unit name's box (x0, y0, x1, y1) in a shrinkage SVG's own units (points, y down).

    Read from its glyphs: matplotlib writes a name as ``translate(x y) scale(s -s)`` and
    each glyph's advance in units of ``s``; DejaVu Sans reaches 76 units above the baseline
    and 24 below, and its glyphs are at most 65 wide (the last one's advance plus its own).
    """
    boxes = []
    for body in svg.split('<g id="unit-label-')[1:]:
        body = body.split('<g id="', 1)[0]
        x, y, scale = map(
            float,
            re.search(r"translate\(([-0-9.]+) ([-0-9.]+)\) scale\(([0-9.]+) -", body).groups(),
        )
        advances = [
            float(a or 0)
            for a in re.findall(
                r'<use xlink:href="#[^"]+"(?: transform="translate\(([0-9.]+) 0\)")?', body
            )
        ]
        boxes.append((x, y - 76 * scale, x + scale * (max(advances) + 65), y + 24 * scale))
    return boxes


def test_label_boxes_sees_overlapping_names():
    # Two names drawn at the same place overlap; beside each other, they do not.
    import io

    from analyses.core import figures

    def svg(points):
        fig, ax = figures.new_figure(figures.PHONE_WIDTH, 3)
        for i, (x, y, text) in enumerate(points):
            ax.annotate(text, (x, y), fontsize=10, gid=f"unit-label-{i}")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        figures.pyplot().close(fig)
        return label_boxes(buffer.getvalue())

    same = svg([(0.2, 0.5, "hip-hop-038"), (0.22, 0.51, "hip-hop-060")])
    apart = svg([(0.1, 0.5, "hip-hop-038"), (0.6, 0.5, "hip-hop-060")])
    assert len(same) == len(apart) == 2
    assert _overlapping(same) and not _overlapping(apart)


def _overlapping(boxes):
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


@pytest.mark.parametrize("name", ["creator-pricing", "eight-schools"])
def test_no_two_unit_names_overlap(reports, name):
    boxes = label_boxes((_readout(reports, name) / "fig-shrinkage.svg").read_text())
    assert len(boxes) >= 3, boxes  # the stories told, at least, are named
    assert not _overlapping(boxes)


@pytest.mark.parametrize("name", ALL)
def test_no_page_is_mostly_empty(reports, name, tmp_path):
    pdf = _readout(reports, name) / "report.pdf"
    fills = [fill(image) for image in page_images(pdf, tmp_path)]
    assert len(fills) == len(page_texts(pdf))
    empty = [(i + 1, round(f, 2)) for i, f in enumerate(fills) if f < MOSTLY_EMPTY]
    assert not empty or len(fills) == 1, f"{pdf}: mostly empty pages {empty} of fills {fills}"


def test_the_fill_measure_sees_a_mostly_empty_page(tmp_path):
    # A two-page PDF whose second page holds one line: the measure the tests above use.
    from readout import render

    html = (
        "<html><body><main>"
        + "<p>A line of words filling the page.</p>" * 28
        + "<p>The spill.</p></main></body></html>"
    )
    import weasyprint

    weasyprint.HTML(string=html, media_type="print").write_pdf(tmp_path / "spill.pdf")
    fills = [fill(image) for image in page_images(tmp_path / "spill.pdf", tmp_path)]
    assert len(fills) == 2 and fills[0] > 0.8 and fills[1] < MOSTLY_EMPTY, fills
    # readout's own printing pulls such a spill back onto the page before.
    render.write_pdf(html, tmp_path / "fitted.pdf")
    assert len(page_texts(tmp_path / "fitted.pdf")) == 1


def printed_charts(html: str) -> list[tuple[str, float, float]]:
    """Each chart of a page as WeasyPrint prints it: its alt text, its smallest text (pt) and
    how far its printed box's shape is from its drawing's (0: the same; a box stretched
    beyond it letterboxes the drawing, shrinking its text below what the width says)."""
    import base64

    from readout import render

    charts = []
    for page in render.print_document(html).pages:
        stack = [page._page_box]
        while stack:
            for box in getattr(stack.pop(), "children", None) or []:
                stack.append(box)
                element = getattr(box, "element", None)
                src = "" if element is None else element.get("src") or ""
                if not src.startswith("data:image/svg"):
                    continue
                svg = base64.b64decode(src.split(",", 1)[1]).decode()
                width, height = map(
                    float, re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)', svg).groups()
                )
                printed = 0.75 * box.width  # CSS px to pt
                shape = abs((box.height / box.width) / (height / width) - 1)
                charts.append((element.get("alt"), smallest_text(svg) * printed / width, shape))
    return charts


#: Every chart prints its smallest text at 8 pt (``--print-width``), but the shrinkage chart of
#: a hierarchical readout, held shorter so that it stays on page one.
PRINTED_PT, SHRINKAGE_PT = 7.95, 6.5


@pytest.mark.parametrize("name", ALL)
def test_printed_chart_text_is_at_least_8pt(reports, name):
    html = (_readout(reports, name) / "report.html").read_text()
    charts = printed_charts(html)
    assert charts, name
    for alt, pt, shape in charts:
        least = SHRINKAGE_PT if "own against pooled" in alt else PRINTED_PT
        assert pt >= least, (alt[:60], round(pt, 2))
        assert shape < 0.01, (alt[:60], shape)


CHROMIUM = shutil.which("chromium")
#: Each figure shown: its id, the width it is drawn at (CSS px) and its SVG (base64).
FIGURES_JS = """[...document.querySelectorAll('figure img')].map(i => [
    i.closest('figure').id, i.getBoundingClientRect().width, i.src,
    i.closest('figure').scrollWidth - i.closest('figure').clientWidth])"""


def smallest_text(svg: str) -> float:
    """The smallest text of a matplotlib SVG in its own units (points): glyphs at size/100."""
    sizes = [100 * float(s) for s in re.findall(r"scale\(([0-9.]+) -\1\)", svg)]
    return min(sizes)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup)")
def test_chart_text_is_at_least_9px_on_a_phone(reports):
    import base64

    from playwright.sync_api import sync_playwright

    measured = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 390, "height": 900})
        for name in ALL:
            page.goto((_readout(reports, name) / "report.html").resolve().as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
            for fid, shown, src, scroll in page.evaluate(FIGURES_JS):
                svg = base64.b64decode(src.split(",", 1)[1]).decode()
                view = float(re.search(r'viewBox="0 0 ([0-9.]+)', svg)[1])
                measured[(name, fid)] = (smallest_text(svg) * shown / view, scroll)
        browser.close()
    assert len(measured) >= 2 * len(ALL)
    small = {k: round(px, 2) for k, (px, _) in measured.items() if px < 9}
    assert not small, small
    # Every chart is drawn to fit a phone: none needs scrolling sideways (one that did not
    # fit would scroll in its frame rather than shrink its text).
    scrolled = {k: s for k, (_, s) in measured.items() if s > 1}
    assert not scrolled, scrolled
