"""Figures print looking as drawn: their texts as text, many ``<use>`` targets inlined."""

import base64
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from readout import render


def _figure_with_many_markers(path):
    from analyses.core import figures

    fig, ax = figures.new_figure(4, 3)
    rng = np.random.default_rng(0)
    for i in range(80):  # one marker definition per line: 80 distinct targets, and text
        size = 4 + i / 20  # each line's markers of their own size: a definition of their own
        ax.plot(rng.normal(size=3), rng.normal(size=3), "os^"[i % 3], ms=size, color=f"C{i % 10}")
    ax.set_xlabel("Own estimate (no pooling)")
    ax.set_title("many groups")
    fig.savefig(path, format="svg", metadata={"Date": None})
    return path


def _pixels(svg_uri: str, folder, name: str, dpi: int = 80, blur: float = 0) -> np.ndarray:
    """The figure printed 16 cm wide, in grey levels at ``dpi`` (Gaussian-blurred by ``blur``
    pixels: a glyph drawn from the font and from its outline differ in edge shading only)."""
    from PIL import Image, ImageFilter

    html = f'<html><body style="margin:0"><img src="{svg_uri}" style="width:16cm"></body></html>'
    pdf = folder / f"{name}.pdf"
    render.write_pdf(html, pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1", pdf, folder / name],
        check=True,
    )
    (png,) = folder.glob(f"{name}-*.png")
    grey = Image.open(png).convert("L")
    return np.asarray(grey.filter(ImageFilter.GaussianBlur(blur)), dtype=int)


@pytest.mark.slow
def test_a_figure_with_many_use_targets_prints_the_same_with_its_uses_inlined(tmp_path):
    path = _figure_with_many_markers(tmp_path / "fig.svg")
    printed = base64.b64decode(render.for_printing(path).split(",", 1)[1])
    assert b"<use " not in printed and printed.count(b"<path") > path.read_bytes().count(b"<path")
    tree = render._svg_tree(path.read_bytes())
    render.inline_uses(tree)  # its uses inlined, its texts as drawn
    inlined = ET.tostring(tree, encoding="utf-8")
    assert b"<use " not in inlined
    before = _pixels(render.figure_uri(path), tmp_path, "before")
    after = _pixels(
        "data:image/svg+xml;base64," + base64.b64encode(inlined).decode(), tmp_path, "after"
    )
    assert before.shape == after.shape
    assert (before < 128).sum() > 2000  # the page holds the figure
    assert (np.abs(before - after) > 40).mean() < 1e-4  # the same picture


def test_an_ordinary_figure_keeps_its_uses(tmp_path):
    from analyses.core import figures

    fig, ax = figures.new_figure(4, 3)
    ax.plot([0, 1], [1, 0], "o-")
    ax.set_xlabel("a few markers and a label")
    fig.savefig(tmp_path / "fig.svg", format="svg")
    original = (tmp_path / "fig.svg").read_bytes()
    printed = base64.b64decode(render.for_printing(tmp_path / "fig.svg").split(",", 1)[1])
    markers = original.count(b"<use ") - original.count(b'href="#DejaVuSans')
    assert 0 < markers == printed.count(b"<use ")  # the markers and ticks, not inlined
    assert b'href="#DejaVuSans' not in printed
    assert b">a few markers and a label</text>" in printed


#: Every kind of text a readout's chart has, characters the SVG escapes, and spaces.
TEXTS = {
    "title": "Conversion & revenue <by arm>",
    "xlabel": "Relative lift over control (%); shaded: 94% HDI",
    "ylabel": "Share of users (rotated)",
    "legend": "B - A:  76% above 0 ",
    "wrapped": "a label wrapped\nonto two lines",
}
#: Texts left as outlines: a comment matplotlib altered ("--"), right-to-left characters.
OUTLINES = {"dashes": "kept as outlines -- a double dash", "rtl": "\u05e9\u05dc\u05d5\u05dd ab"}


def _figure_with_every_text(path):
    from analyses.core import figures

    fig, ax = figures.new_figure(5, 3.2)
    ax.plot([-20, 0, 40], [0, 1, 0.2], color=figures.PALETTE[1], label=TEXTS["legend"])
    ax.set_title(TEXTS["title"], fontweight="bold")
    ax.set_xlabel(TEXTS["xlabel"])
    ax.set_ylabel(TEXTS["ylabel"])
    ax.text(-15, 0.8, OUTLINES["dashes"], color=figures.PALETTE[2], alpha=0.7, fontsize=7)
    ax.text(-15, 0.6, TEXTS["wrapped"], color=figures.PALETTE[3])
    ax.text(20, 0.6, OUTLINES["rtl"])
    ax.legend(frameon=False)
    fig.savefig(path, format="svg", metadata={"Date": None})
    figures.pyplot().close(fig)
    return path


def test_a_figures_texts_print_as_text_where_matplotlib_drew_them(tmp_path):
    from tests.pdf import pdf_text

    path = _figure_with_every_text(tmp_path / "fig.svg")
    original = path.read_bytes()
    printed = base64.b64decode(render.for_printing(path).split(",", 1)[1])
    lines = [line for text in TEXTS.values() for line in text.split("\n")]
    for line in lines:  # each line of each text, as text
        escaped = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f">{escaped}</text>".encode() in printed, line
    # Every line (the ticks' labels too; matplotlib writes each line in a comment) but two.
    assert printed.count(b"</text>") == original.count(b"<!-- ") - len(OUTLINES)
    # The others as outlines, one glyph each; outlines no text uses are gone.
    assert printed.count(b'href="#DejaVuSans') == sum(map(len, OUTLINES.values()))
    assert printed.count(b'id="DejaVuSans') < original.count(b'id="DejaVuSans')
    assert b'font-weight="700"' in printed and b"rotate(-90)" in printed
    uri = "data:image/svg+xml;base64," + base64.b64encode(printed).decode()
    before = _pixels(render.figure_uri(path), tmp_path, "before", dpi=150, blur=1.5)
    after = _pixels(uri, tmp_path, "after", dpi=150, blur=1.5)
    assert before.shape == after.shape
    assert (before < 128).sum() > 5000  # the page holds the figure
    # The same picture: measured 0.04% of pixels differ by more than 40 grey levels (edge
    # shading); every text moved by 2 pixels (0.3 mm) makes it 1.1%.
    assert (np.abs(before - after) > 40).mean() < 2e-3
    words = " ".join(pdf_text(tmp_path / "after.pdf").split())
    for line in lines:
        assert " ".join(line.split()) in words, (line, words)
    for text in OUTLINES.values():
        assert " ".join(text.split()) not in words


PRINT_TWICE = """
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from readout import render

def two(folder):
    render.write_pdf("<p>one</p>", Path(folder) / "one.pdf")
    render.write_pdf("<p>two</p>", Path(folder) / "two.pdf")

if sys.argv[1] == "workers":
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(two, [sys.argv[2], sys.argv[2]]))
else:
    two(sys.argv[2])
"""


@pytest.mark.parametrize("where", ["process", "workers"])
def test_the_fonts_parsed_once_a_process_leave_no_temporary_folder(tmp_path, where):
    # The font configuration is kept for the process's PDFs; its temporary folder of font
    # files must still go when the process (or a -j worker) ends, quietly.
    import os
    import sys
    from pathlib import Path

    temp = tmp_path / "tmp"
    temp.mkdir()
    root = Path(render.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", PRINT_TWICE, where, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "two.pdf").stat().st_size > 0
    assert list(temp.iterdir()) == []
    assert "Exception ignored" not in done.stderr


PAGE = """<!doctype html><html><head><style>
@page { size: A5; }
p { margin-top: 60mm; }
</style></head>
<body><p>a page's own stylesheet</p><p style="margin-top: 0">inline</p></body></html>"""


def test_a_pages_stylesheet_is_parsed_once_and_still_styles_the_print(tmp_path):
    from pypdf import PdfReader

    html, sheets = render.page_stylesheets(PAGE)
    assert "<style>" not in html and "inline" in html and len(sheets) == 1
    assert render.page_stylesheets(PAGE)[1][0] is sheets[0]  # the same parsed object
    render.write_pdf(PAGE, tmp_path / "page.pdf")
    box = PdfReader(tmp_path / "page.pdf").pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (
        148,
        210,
    )  # A5 from the page's own @page rule, not the fonts' default A4


def test_printing_a_page_never_reaches_the_network(tmp_path, monkeypatch):
    """A page's URLs other than ``data:`` and ``file:`` are not fetched when it is printed."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # a fetch would reach the local server
    import http.server
    import threading

    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            requested.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{server.server_address[1]}"
        figure = _figure_with_many_markers(tmp_path / "fig.svg")
        html = (
            f'<html><head><link rel="stylesheet" href="{remote}/page.css"></head><body>'
            f'<img src="{remote}/chart.png"><img src="{figure.as_uri()}" style="width:16cm">'
            "</body></html>"
        )
        render.write_pdf(html, tmp_path / "page.pdf")
    finally:
        server.shutdown()
        server.server_close()
    assert requested == []
    # The local figure (a file: URL) is printed: page 1 is far from blank.
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "40",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            tmp_path / "page.pdf",
            tmp_path / "p",
        ],
        check=True,
    )
    from PIL import Image

    (png,) = tmp_path.glob("p-*.png")
    assert (np.asarray(Image.open(png).convert("L")) < 128).sum() > 500
