"""A printed page leaves out what its print hides, and prints exactly as before.

``render.without_hidden`` cuts the elements ``report.css`` hides in print (the glossary,
how to read, the SQL, the charts a scorecard repeats) out of the page before WeasyPrint
parses it. The reference is the whole page printed, the hidden elements left to the
stylesheet: every box of every page (its kind, place, size and text) must be the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from readout import render

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
#: A chart's file: a 4 x 3 inch SVG with a line (and an empty glyph group, as matplotlib
#: writes its texts).
CHART = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="288pt" height="216pt" '
    'viewBox="0 0 288 216"><g transform="translate(10 20) scale(0.1 -0.1)"></g>'
    '<path d="M 10 200 L 280 10" style="stroke: #4a5568"/></svg>'
)
#: The pages with the most hidden kinds (an A/B page with a scorecard: its repeated chart,
#: section and figure; a hierarchical page: a table; a mixture's figure); every other
#: fixture (every template) in the slow run.
FAST = ("checkout-redesign", "creator-pricing", "three-groups")
ALL = sorted(path.stem for path in BUNDLES.glob("*.json"))


def _page(name: str, folder: Path) -> str:
    bundle = json.loads((BUNDLES / f"{name}.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    for fig in bundle["figures"]:
        (folder / fig["file"]).write_text(CHART)
    return render.report_html(bundle, folder)


def _boxes(document) -> list[list[tuple]]:
    """Every box of every page: its kind, position, size and text, in tree order."""
    pages = []
    for page in document.pages:
        seen, stack = [], [page._page_box]
        while stack:
            box = stack.pop()
            seen.append(
                (
                    type(box).__name__,
                    round(box.position_x, 6),
                    round(box.position_y, 6),
                    round(box.width, 6) if isinstance(box.width, float) else box.width,
                    round(box.height, 6) if isinstance(box.height, float) else box.height,
                    getattr(box, "text", None),
                )
            )
            stack.extend(reversed(getattr(box, "children", None) or []))
        pages.append(seen)
    return pages


@pytest.mark.parametrize(
    "name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in ALL]
)
def test_a_page_prints_the_same_without_what_print_hides(name, tmp_path, monkeypatch):
    html = _page(name, tmp_path / name)
    cut = render.without_hidden(html)
    assert len(cut) < len(html)  # every readout's page hides its glossary
    assert not re.search(r'class="[^"]*\b(screen-only|print-hide)\b', cut)
    assert 'id="glossary"' in html and 'id="glossary"' not in cut
    assert cut.count("<section") + html.count('<section class="howto') <= html.count("<section")

    printed = _boxes(render.print_document(html))
    monkeypatch.setattr(render, "without_hidden", lambda page: page)  # the stylesheet's work
    whole = _boxes(render.print_document(html))
    assert len(printed) == len(whole) >= 1
    for page, (ours, reference) in enumerate(zip(printed, whole, strict=True), 1):
        assert ours == reference, f"{name}: page {page} differs"


def test_what_is_cut_is_the_whole_hidden_element_and_nothing_else():
    html = (
        '<main><p class="lead">kept</p>'
        '<div class="table-wrap screen-only"><div>nested <div>deeper</div></div>'
        "<table><tr><td>x</td></tr></table></div>"
        '<section id="a" class="print-hide"><section class="screen-only">in</section>'
        "<p>also gone</p></section>"
        '<p>between</p><img class="screen-only" src="data:," alt="gone">'
        '<figure class="print-only"><img src="data:," alt="printed"></figure>'
        '<p class="hidden-in-print-not">kept too</p></main>'
    )
    assert render.without_hidden(html) == (
        '<main><p class="lead">kept</p><p>between</p>'
        '<figure class="print-only"><img src="data:," alt="printed"></figure>'
        '<p class="hidden-in-print-not">kept too</p></main>'
    )


def test_an_element_whose_end_is_missing_is_left_in():
    html = '<main><div class="screen-only"><div>open</div><p>rest</p></main>'
    assert render.without_hidden(html) == html
    assert render.without_hidden("<p>nothing hidden</p>") == "<p>nothing hidden</p>"


def test_the_print_stylesheet_hides_only_these_classes():
    """A new print rule hiding something else must be taught to ``without_hidden`` too, and
    no print rule may show one of its classes again."""
    css = (render.TEMPLATES / "report.css").read_text()
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", css.split("@media print", 1)[1])
    hidden = {
        selector.strip()
        for selectors, body in rules
        if re.search(r"display:\s*none", body)
        for selector in selectors.split(",")
    }
    # The provenance's own heading is inside a printed element: hidden by the cascade.
    assert hidden - {"footer.provenance h2"} == {f".{cls}" for cls in render.HIDDEN_IN_PRINT}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if any(f".{cls}" in selectors for cls in render.HIDDEN_IN_PRINT) and "display" in body:
            assert re.search(r"display:\s*none", body), selectors
