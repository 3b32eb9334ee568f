"""Render bundles into the self-contained HTML page, the PDF, and the site's pages.

Templates ship inside the installed package (``readout/templates`` in a wheel); in a
source checkout they are the project's ``templates/`` folder.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from readout import store, weasy

HERE = Path(__file__).resolve().parent


def _templates() -> Path:
    packaged = HERE / "templates"
    return packaged if packaged.is_dir() else HERE.parent / "templates"


TEMPLATES = _templates()


@functools.cache
def code_version() -> str:
    """Hash of the templates, the wording and this module: a change re-renders, not refits."""
    digest = hashlib.sha256()
    paths = (
        sorted(TEMPLATES.rglob("*"))
        + sorted((HERE / "wording").rglob("*.py"))
        + [Path(__file__).resolve()]
    )
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


#: A sign right before a currency symbol: "+$0.82", "-£3".
SIGNED_MONEY = re.compile(r"(?<![\w$£€])([+\-\u2212])(?=[$£€¥])")
#: U+2060 WORD JOINER: invisible, and no line break on either side of it.
WORD_JOINER = "\u2060"


def keep_signs(value: Any) -> Any:
    """A printed value with every signed amount of money kept on one line.

    Browsers and WeasyPrint may break a line between a sign and a currency symbol ("+" at
    the end of one line, "$0.82" on the next); a word joiner between them forbids it, in
    text and attributes alike, and neither shows nor changes the copied text's look.
    """
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return SIGNED_MONEY.sub(r"\1" + WORD_JOINER, value)
    return value


@functools.cache
def environment():
    """The Jinja2 environment: HTML autoescaping on, undefined names are errors.

    One a process: its templates are compiled once (and again when a file changes).
    """
    import jinja2

    from readout import wording

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=keep_signs,
    )
    env.globals["prob"] = wording.prob
    env.globals["files"] = store
    return env


def render_key(site_url: str) -> str:
    """What a rendered readout depends on besides its bundle: the code and the site's address."""
    return hashlib.sha256(f"{code_version()}\n{site_url}".encode()).hexdigest()


def figure_uri(path: Path, data: bytes | None = None) -> str:
    """An SVG or PNG figure as a ``data:`` URI, so the page loads nothing from elsewhere.

    ``data``: the file's bytes where the caller has read them already.
    """
    kind = "svg+xml" if path.suffix == ".svg" else "png"
    data = path.read_bytes() if data is None else data
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
#: Above this many distinct ``<use>`` targets an SVG is printed with its uses inlined.
MANY_TARGETS = 50


def _svg_tree(svg: bytes):
    """An SVG's element tree, its comments kept (matplotlib writes each text in one)."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", SVG)
    ET.register_namespace("xlink", XLINK)
    return ET.fromstring(svg, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))


def inline_uses(root) -> None:
    """Replace in an SVG's tree every ``<use>`` of a plain element by a copy of that element.

    A figure with hundreds of markers or legend entries (one per group) references as many
    definitions; WeasyPrint looks each one up by walking the whole tree, so printing such a
    figure took minutes. The copy sits in a group carrying the use's attributes, moved by
    its ``x`` and ``y`` as SVG's ``<use>`` is; a use of a ``<symbol>``, ``<svg>`` or of
    something that itself holds uses is left as it is.
    """
    import copy
    import xml.etree.ElementTree as ET

    use, href = f"{{{SVG}}}use", f"{{{XLINK}}}href"
    targets = {e.get("id"): e for e in root.iter() if e.get("id")}
    plain = {
        key: e
        for key, e in targets.items()
        if e.tag not in (f"{{{SVG}}}symbol", f"{{{SVG}}}svg") and next(e.iter(use), None) is None
    }
    for parent in root.iter():
        for i, child in enumerate(parent):
            if child.tag != use:
                continue
            target = plain.get((child.get(href) or child.get("href") or "").removeprefix("#"))
            if target is None:
                continue
            group = ET.Element(f"{{{SVG}}}g")
            keep = {"x", "y", "width", "height", "href", href}
            for key, value in child.attrib.items():
                if key not in keep:
                    group.set(key, value)
            x, y = child.get("x", "0"), child.get("y", "0")
            if (x, y) != ("0", "0"):
                moved = f"translate({x} {y})"
                group.set("transform", f"{child.get('transform', '')} {moved}".strip())
            shape = copy.deepcopy(target)
            shape.attrib.pop("id", None)
            for inner in shape.iter():
                inner.attrib.pop("id", None)
            group.append(shape)
            parent[i] = group


#: The fonts matplotlib draws readout's charts in (its glyph names' prefixes), as the PDF
#: names them: the shipped DejaVu (``print-fonts.css``), the same font as matplotlib's.
GLYPH_FONTS = {"DejaVuSans": "400", "DejaVuSans-Bold": "700"}
PRINT_FONT = "Readout Sans, DejaVu Sans"
#: A matplotlib text's group: where its line starts, its angle, its size / 100 (points).
_TEXT_PLACE = re.compile(
    r"translate\(([-0-9.e]+) ([-0-9.e]+)\)(?: rotate\(([-0-9.e]+)\))? scale\(([0-9.e]+) -\4\)"
)
#: A glyph's place along its line (matplotlib omits it for the first).
_GLYPH_PLACE = re.compile(r"translate\(([-0-9.e]+)(?: 0)?\)")


def glyphs_as_text(root) -> None:
    """Print matplotlib's texts as text: each line's glyph outlines become one ``<text>``.

    matplotlib writes a chart's every text as glyph outlines (so a browser shows them in
    DejaVu without the font): a text's group holds, for each of its lines, the line in a
    comment and a group of one ``<use>`` of a glyph outline per character. WeasyPrint
    parses a glyph's outline again at every use, a third of a readout's printing; as text it
    draws the shipped DejaVu's own glyphs, each character where matplotlib placed it (its
    kerning kept), and the PDF's chart labels can be searched and copied. A line stays as
    outlines where it may not be the comment's characters in order, one glyph each: a font
    other than DejaVu Sans upright (oblique, another family, maths), a glyph count that
    differs from the comment's characters (matplotlib writes ``--`` as ``- -``), characters
    written right to left or combining marks (placed in another order or joined), a
    transform or child of another shape. Unused outlines are dropped.
    """
    g, use, defs = f"{{{SVG}}}g", f"{{{SVG}}}use", f"{{{SVG}}}defs"
    href = f"{{{XLINK}}}href"
    groups = [e for e in root.iter(g) if (e.get("id") or "").startswith("text_")]
    for group in groups:
        kids = list(group)
        for comment, line in zip(kids, kids[1:], strict=False):
            text = _line_as_text(comment, line) if line.tag == g else None
            if text is None:
                continue
            at = list(group).index(line)
            group.remove(comment)
            group.remove(line)
            # The line's outlines stay for other lines that use them (dropped below if none).
            for i, e in enumerate([*(e for e in line if e.tag == defs), text]):
                group.insert(at - 1 + i, e)
    used = {(e.get(href) or e.get("href") or "").removeprefix("#") for e in root.iter(use)}
    for group in groups:
        for outlines in [e for e in group if e.tag == defs]:
            for outline in [e for e in outlines if e.get("id") not in used]:
                outlines.remove(outline)
            if not len(outlines):
                group.remove(outlines)


#: Characters whose glyphs matplotlib may place out of their order or join to others.
_REORDERED = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI", "NSM"})


def _line_as_text(comment, line):
    """One line of a matplotlib text as a ``<text>``, or None (see :func:`glyphs_as_text`)."""
    import unicodedata
    import xml.etree.ElementTree as ET

    use, defs, href = f"{{{SVG}}}use", f"{{{SVG}}}defs", f"{{{XLINK}}}href"
    if comment.tag is not ET.Comment:
        return None
    chars = (comment.text or "")[1:-1]  # matplotlib writes "<!-- text -->"
    chars = chars.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    place = _TEXT_PLACE.fullmatch(line.get("transform", ""))
    glyphs = [e for e in line if e.tag == use]
    if (
        place is None
        or not chars
        or len(glyphs) != len(chars)
        or any(e.tag not in (use, defs) for e in line)
        or any(
            unicodedata.bidirectional(c) in _REORDERED or unicodedata.combining(c) for c in chars
        )
    ):
        return None
    weights, offsets = set(), []
    for glyph in glyphs:
        font = (glyph.get(href) or "").removeprefix("#").rpartition("-")[0]
        moved = _GLYPH_PLACE.fullmatch(glyph.get("transform") or "translate(0)")
        if font not in GLYPH_FONTS or moved is None:
            return None
        weights.add(GLYPH_FONTS[font])
        offsets.append(float(moved[1]))
    if len(weights) != 1:
        return None
    x, y, angle, scale = place[1], place[2], place[3], float(place[4])
    text = ET.Element(f"{{{SVG}}}text")
    text.set("transform", f"translate({x} {y})" + (f" rotate({angle})" if angle else ""))
    text.set("x", " ".join(f"{offset * scale:.6g}" for offset in offsets))
    text.set("y", "0")
    text.set("font-family", PRINT_FONT)
    text.set("font-size", f"{100 * scale:.6g}")
    text.set("font-weight", weights.pop())
    text.set(f"{{{XML_NS}}}space", "preserve")  # every space at its place, as drawn
    if line.get("style"):
        text.set("style", line.get("style"))
    text.text = chars
    return text


def for_printing(path: Path, data: bytes | None = None) -> str | None:
    """A figure's ``data:`` URI for the PDF, None for a PNG (printed as it is).

    An SVG's texts are printed as text (:func:`glyphs_as_text`); a figure with many
    distinct ``<use>`` targets is printed with its uses inlined (:func:`inline_uses`).
    ``data``: the file's bytes where the caller has read them already.
    """
    import xml.etree.ElementTree as ET

    if path.suffix != ".svg":
        return None
    root = _svg_tree(path.read_bytes() if data is None else data)
    glyphs_as_text(root)
    use, href = f"{{{SVG}}}use", f"{{{XLINK}}}href"
    targets = {(e.get(href) or e.get("href") or "") for e in root.iter(use)}
    if len(targets) >= MANY_TARGETS:
        inline_uses(root)
    svg = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


#: The smallest chart text a reader is shown, in CSS pixels (on a phone too).
LEGIBLE_PX = 9
#: matplotlib draws each text of an SVG as glyph paths scaled by ``size / 100`` (points).
_TEXT_SCALE = re.compile(rb"scale\(([0-9.]+) -\1\)")
_VIEW_WIDTH = re.compile(rb'viewBox="[-0-9.]+ [-0-9.]+ ([0-9.]+) ')


def _text_and_width(svg: bytes) -> tuple[float, float] | None:
    """A matplotlib SVG's smallest text and its width, in its own units; None if unreadable."""
    sizes = [100 * float(s) for s in _TEXT_SCALE.findall(svg)]
    width = _VIEW_WIDTH.search(svg)
    if not sizes or width is None or min(sizes) <= 0:
        return None
    return min(sizes), float(width[1])


def _width_for(found: tuple[float, float] | None, size: float) -> int | None:
    """The width at which a figure's smallest text (``found``) is ``size``; None if unknown."""
    return None if found is None else math.ceil(size * found[1] / found[0])


#: The smallest chart text a printed chart shows, in points (the PDF's tables are 8 pt).
PRINT_PT = 8


def _figure(fig: dict[str, Any], folder: Path, text: Any) -> dict[str, Any]:
    """One figure for the page: its ``data:`` URI, its widths, its caption and alt text.

    The file is read once; the widths come from one scan of its text sizes.
    """
    path = folder / fig["file"]
    data = path.read_bytes()
    found = _text_and_width(data) if path.suffix == ".svg" else None
    return {
        **fig,
        "uri": figure_uri(path, data),
        "min_width": _width_for(found, LEGIBLE_PX),
        "print_width": _width_for(found, PRINT_PT),
        "caption": text.figures[fig["key"]].caption,
        "alt": text.figures[fig["key"]].alt,
    }


def report_html(bundle: dict[str, Any], folder: Path, site_url: str = "") -> str:
    """The report page of one readout; figures are read from ``folder`` and inlined.

    The PDF printed from it links to the page on ``site_url`` when the config gives one.
    """
    return report_page(bundle, folder, site_url)[0]


def report_page(bundle: dict[str, Any], folder: Path, site_url: str = "") -> tuple[str, Any]:
    """:func:`report_html`'s page and the readout's words it shows (``wording.Text``)."""
    from readout import wording

    words = wording.report(bundle)
    text = words.text
    figures = [_figure(fig, folder, text) for fig in bundle["figures"]]
    url = store.readout_url(site_url, bundle["experiment"], bundle["readout_date"])
    html = (
        environment()
        .get_template(template_of(bundle["analysis"]))
        .render(bundle=bundle, text=text, figures=figures, report_url=url, layout=words.layout)
    )
    return html, text


#: The page of an analysis without a template of its own: its wording's layout, in order.
GENERIC = "readout.html.j2"


def template_of(analysis: str) -> str:
    """The page template of an analysis: ``<analysis>.html.j2`` where there is one."""
    own = f"{analysis}.html.j2"
    return own if (TEMPLATES / own).is_file() else GENERIC


def compile_template(env: Any, name: str) -> None:
    """Compile a template and those it extends, includes or imports by name, once a process.

    jinja2 compiles a template a page names (``base.html.j2``, ``_macros.html.j2``) when a
    page is first rendered: 65 ms of an A/B readout's first page, compiled here instead.
    """
    from jinja2 import meta

    names, seen = [name], set()
    while names:
        found = names.pop()
        if found in seen:
            continue
        seen.add(found)
        env.get_template(found)
        source = env.loader.get_source(env, found)[0]
        names += [n for n in meta.find_referenced_templates(env.parse(source)) if n is not None]


#: The process that made this process's print setup (a forked process inherits the setup,
#: not its temporary fonts folder: the process that made it removes it).
_SETUP_PID: int | None = None


@functools.cache
def _print_setup():
    """WeasyPrint's fonts, the shipped fonts' CSS and a URL fetcher: made once a process.

    The fetcher reads ``data:`` and ``file:`` URLs only (a page's figures, the shipped fonts):
    printing never reaches the network, and its HTTPS context trusts no one (made in a
    millisecond: WeasyPrint's default, made for each page, loads the system's certificates,
    0.05 s). WeasyPrint itself imported the quick way (:mod:`readout.weasy`). Dropped when the
    process ends (a ``-j`` worker too, which ends without the interpreter's teardown),
    removing the font configuration's temporary folder.
    """
    import multiprocessing.util

    weasyprint = weasy.load()

    global _SETUP_PID
    _SETUP_PID = os.getpid()
    multiprocessing.util.Finalize(None, drop_print_setup, exitpriority=0)

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fonts = weasyprint.text.fonts.FontConfiguration()
    fetcher = weasyprint.urls.URLFetcher(
        allowed_protocols=("data", "file"), ssl_context=weasy.trusting_no_one()
    )
    css = weasyprint.CSS(
        filename=str(TEMPLATES / "print-fonts.css"), font_config=fonts, url_fetcher=fetcher
    )
    return fonts, css, fetcher


def warm_printing(analyses: tuple[str, ...] = (), sample: bool = False) -> None:
    """Make a process ready to render pages: WeasyPrint, fonts, stylesheet, templates.

    The start of a run's printer process (:func:`readout.runner.printer`), while the run
    itself reads and fits: the fonts' configuration and CSS, the pages' shared stylesheet as
    :func:`page_stylesheets` will find it, the templates of ``analyses`` compiled (the
    run's: the printer waits for none it will not use; any other compiles when first used).
    ``sample``: and a sample page printed (:func:`_print_sample`), where the run's first
    page will be asked for late enough to gain by it. The wording packages of ``analyses``
    are imported too, and the templates their pages extend and import compiled: what the
    run's first page would otherwise do as it is written (14 modules and two templates, 80
    ms of an A/B readout's page).
    """
    from readout.wording import module as wording_module

    env = environment()
    style = env.from_string('<style>\n{% include "report.css" %}\n</style>').render()
    _print_setup()
    for text in _STYLE.findall(style):
        _parsed_css(text)
    for analysis in analyses:
        compile_template(env, template_of(analysis))
        with contextlib.suppress(Exception):  # a plug-in's wording that fails says so on its page
            wording_module(analysis)
    if sample:
        _print_sample()


#: The sample page's chart: a chart's text as a page prints it (:func:`glyphs_as_text`).
SAMPLE_CHART = (
    f'<svg xmlns="{SVG}" width="360pt" height="120pt" viewBox="0 0 360 120">'
    '<path d="M 10 100 L 350 100" style="stroke: #4a5568"/>'
    '<text x="10" y="20" style="font-family: \'Readout Sans\', \'DejaVu Sans\'; font-size: 12px;'
    ' font-weight: bold">Lift, 94% HDI</text>'
    '<text x="10" y="114" xml:space="preserve" style="font-family: \'Readout Sans\','
    " 'DejaVu Sans'; font-size: 10px\">−5%  0%  +5%  treatment vs control: 69% above 0</text>"
    "</svg>"
)


def _print_sample() -> None:
    """Print a small page like a readout's, to memory (``print-warmup.html.j2``).

    The first page a process prints loads fonts and warms WeasyPrint's shaping and PDF code:
    printed here (0.3 s), the run's first page takes 0.15 s less. Worth it where a printer
    would wait longer than that for the page: not beside a data file's exact A/B readout
    (its page is asked for as soon as the printer is ready), beside a warehouse's query or
    a sampled model's fit.
    """
    import io

    chart = "data:image/svg+xml;base64," + base64.b64encode(SAMPLE_CHART.encode()).decode()
    print_document(page("print-warmup.html.j2", chart=chart)).write_pdf(io.BytesIO())


def drop_print_setup() -> None:
    """Remove the print setup's temporary fonts folder, in the process that made it only.

    At the end of every process that printed (an exit handler), and by a stopped printer
    (:mod:`readout.printer`), which ends without exit handlers.
    """
    if _print_setup.cache_info().currsize and _SETUP_PID == os.getpid():
        fonts, _, _ = _print_setup()
        fonts.__del__()  # WeasyPrint's clean-up: removes the fonts' temporary folder
        _parsed_css.cache_clear()
        _print_setup.cache_clear()


#: A page whose content fills less than this share of its height is mostly empty.
MOSTLY_EMPTY = 0.25
#: A last page filled less than this is worth trying to pull onto the pages before it.
PULL_BACK_BELOW = 0.4
#: Printed again with these in turn while the last page would be mostly empty: a little
#: tighter, so a few spilled lines join the page before (the reader gets one page fewer).
#: ``!important``: WeasyPrint reads them as user stylesheets, below the page's own.
COMPACT_CSS = (
    """
@media print {
  body { font-size: 9pt !important; line-height: 1.32 !important; }
  p { margin: .3rem 0 !important; }
  h2 { margin-top: .8rem !important; }
  figure { margin: .3rem 0 !important; }
}
""",
    """
@media print {
  body { font-size: 8.6pt !important; line-height: 1.28 !important; }
  p { margin: .25rem 0 !important; }
  h2 { margin-top: .6rem !important; }
  figure { margin: .2rem 0 !important; }
  table, .table-wrap { break-inside: auto !important; }
  tr { break-inside: avoid !important; }
}
""",
)


def page_fill(document: Any) -> list[float]:
    """The share of each laid-out page's content height its lines and pictures reach."""
    fills = []
    for page in document.pages:
        box = page._page_box
        top, bottom = box.content_box_y(), box.content_box_y()
        stack = [box]
        while stack:
            for child in getattr(stack.pop(), "children", None) or []:
                kind = type(child).__name__
                if kind == "MarginBox":  # the running header and footer
                    continue
                if kind in ("LineBox", "InlineReplacedBox", "BlockReplacedBox"):
                    bottom = max(bottom, child.position_y + child.margin_height())
                stack.append(child)
        fills.append((bottom - top) / box.height)
    return fills


#: A page's own stylesheets: ``<style>`` elements without attributes, in its head.
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@functools.lru_cache(maxsize=16)
def _parsed_css(text: str) -> Any:
    """A stylesheet parsed once a process (the page's ``report.css``, :data:`COMPACT_CSS`)."""
    weasyprint = weasy.load()

    fonts, _, fetcher = _print_setup()
    return weasyprint.CSS(
        string=text, base_url=str(TEMPLATES), font_config=fonts, url_fetcher=fetcher
    )


def page_stylesheets(html: str) -> tuple[str, list[Any]]:
    """``html`` without the ``<style>`` elements of its head, and those parsed (cached).

    Every readout's page carries the same ``report.css``; WeasyPrint parsed it at every
    print. Given as stylesheets after the fonts' CSS they cascade as before: nothing else
    on the page is styled by a rule of its own but inline ``style`` attributes (which win
    either way), the fonts' rules lose to the page's as they did, and the page's one
    ``!important`` (a narrow screen's) is not the compact rules'.
    """
    head, separator, body = html.partition("</head>")
    if not separator:
        return html, []
    sheets = [_parsed_css(text) for text in _STYLE.findall(head)]
    return _STYLE.sub("", head) + separator + body, sheets


#: The classes of the elements a print hides (``report.css``: ``display: none`` in print).
HIDDEN_IN_PRINT = frozenset({"screen-only", "print-hide"})
#: A start tag with a class attribute: its name and its classes.
_CLASSED = re.compile(r'<([a-z][a-z0-9]*)\b[^>]*?\sclass="([^"]*)"[^>]*>')
#: Elements without an end tag.
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"})


def without_hidden(html: str) -> str:
    """``html`` without the elements a print hides (classes :data:`HIDDEN_IN_PRINT`).

    They print nothing (no box, no page break, no anchor), but WeasyPrint parsed and styled
    them: a warehouse A/B page's glossary, how-to-read, SQL and repeated charts are two
    thirds of its markup (a quarter of a data file's), half its bytes with the charts'
    ``data:`` URIs. Read off the markup the templates write (every element closed, text
    escaped); an element whose end is not found is left in.
    """
    kept, start = [], 0
    for found in _CLASSED.finditer(html, max(html.find("<body"), 0)):  # never the head's CSS
        if found.start() < start or not HIDDEN_IN_PRINT & set(found[2].split()):
            continue
        tag = found[1]
        end = found.end() if tag in _VOID else _end_of(html, tag, found.end())
        if end is None:
            continue
        kept.append(html[start : found.start()])
        start = end
    return "".join(kept) + html[start:] if kept else html


def _end_of(html: str, tag: str, start: int) -> int | None:
    """Where the element ``tag`` opened just before ``start`` ends (its nesting counted)."""
    depth = 1
    for found in re.compile(rf"<(/?){tag}\b[^>]*>").finditer(html, start):
        depth += -1 if found[1] else 1
        if not depth:
            return found.end()
    return None


def write_pdf(html: str, target: Path) -> None:
    """Print ``html`` to ``target`` with WeasyPrint (laid out by :func:`print_document`)."""
    print_document(html).write_pdf(target)


def print_document(html: str) -> Any:
    """``html`` laid out for print by WeasyPrint, using the shipped fonts.

    When the last page would be short (under :data:`PULL_BACK_BELOW`; mostly empty under
    :data:`MOSTLY_EMPTY`), the page is printed again a little tighter (:data:`COMPACT_CSS`,
    step by step), and a version with fewer pages is kept. Stylesheets and fonts are parsed
    once a process (:func:`page_stylesheets`); what the print hides is never parsed
    (:func:`without_hidden`).
    """
    weasyprint = weasy.load()

    fonts, css, fetcher = _print_setup()
    notes = weasy.may_have_notes(html)  # the shipped stylesheets have none: tested
    html, own = page_stylesheets(without_hidden(html))
    images: dict = {}  # the figures, parsed once for the tighter prints too

    def source_of(trimmed: bool) -> Any:
        source = weasyprint.HTML(
            string=html, base_url=str(TEMPLATES), media_type="print", url_fetcher=fetcher
        )
        if trimmed:
            weasy.without_notes(source)
        return source

    source = source_of(not notes)
    try:
        document = source.render(stylesheets=[css, *own], font_config=fonts, cache=images)
    except Exception:
        if notes:
            raise
        # A footnote a stylesheet the page links to makes: printed with every pseudo-element.
        source = source_of(False)
        document = source.render(stylesheets=[css, *own], font_config=fonts, cache=images)
    for tighter_css in COMPACT_CSS:  # tighter and tighter, until the spill is gone
        fills = page_fill(document)
        if len(fills) < 2 or fills[-1] >= PULL_BACK_BELOW:
            break
        compact = _parsed_css(tighter_css)
        tighter = source.render(stylesheets=[css, *own, compact], font_config=fonts, cache=images)
        if len(tighter.pages) < len(document.pages):
            document = tighter
    return document


def render_readout(folder: Path, site_url: str = "") -> str:
    """(Re)write ``report.html`` and ``report.pdf`` in a readout folder from its bundle.

    Returns the page's headline (the verdict a run's last lines quote).
    """
    from readout.bundle import read
    from readout.files import atomic_path, atomic_write_text

    bundle = read(folder / store.BUNDLE)
    html, text = report_page(bundle, folder, site_url)
    atomic_write_text(folder / store.REPORT_HTML, html)
    with atomic_path(folder / store.REPORT_PDF) as tmp:
        write_pdf(printed_page(html, bundle, folder), tmp)
    return text.headline


def printed_page(html: str, bundle: dict, folder: Path) -> str:
    """A readout's page (``html``) as it is printed: its figures as :func:`for_printing` makes."""
    printed = html
    for fig in bundle["figures"]:
        path = folder / fig["file"]
        data = path.read_bytes()
        uri = for_printing(path, data)
        if uri is not None:
            printed = printed.replace(figure_uri(path, data), uri)
    return printed


def page(template: str, **context: Any) -> str:
    """Render one of the site's pages."""
    return environment().get_template(template).render(**context)
