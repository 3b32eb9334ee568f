"""A page's print, the same with WeasyPrint's repeated work remembered or left out.

:func:`readout.weasy.lines_once` remembers WeasyPrint's first line of a text at a width;
:func:`readout.weasy.without_notes` styles a page without the pseudo-elements only a
footnote or a note reads. Each is compared with WeasyPrint's own work, byte for byte, on a
demo readout's page and on a page made to vary every style property a line reads.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from readout import bundle as bundles
from readout import render, store, weasy
from tests.pdf import pdf_text
from tests.readout.running import demo_readout

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def paywall(tmp_path_factory) -> str:
    """The demo's paywall readout's page as it is printed (a scorecard, tables, a chart)."""
    folder = demo_readout(tmp_path_factory.mktemp("paywall"), "paywall", "2026-11-21")
    bundle = bundles.read(folder / store.BUNDLE)
    return render.printed_page((folder / store.REPORT_HTML).read_text(), bundle, folder)


def _pdf(html: str) -> bytes:
    out = io.BytesIO()
    render.print_document(html).write_pdf(out)
    return out.getvalue()


def _line_modules():
    from weasyprint.layout import inline, preferred
    from weasyprint.text import line_break

    return line_break, inline, preferred


def _with_lines(monkeypatch, split) -> None:
    """WeasyPrint's modules reading ``split`` as their ``split_first_line``."""
    for module in _line_modules():
        monkeypatch.setattr(module, "split_first_line", split)


def _weasyprints():
    """WeasyPrint's own ``split_first_line`` (what :func:`readout.weasy.lines_once` wraps)."""
    split = _line_modules()[0].split_first_line
    return getattr(split, "asks", split)


def _counted(calls: list):
    """WeasyPrint's own ``split_first_line``, each call counted in ``calls``."""
    asks = _weasyprints()

    def split(*args, **kwargs):
        calls.append(args[0])
        return asks(*args, **kwargs)

    return split


#: Blocks that lay out the same sentence in each way a line's style can differ, each after
#: a block that differs from it in that property only: ``(lang, style)``. With the shipped
#: fonts 18 of :data:`readout.weasy.LINE_STYLE`'s properties change an answer here, and a
#: key without any one of them fails the test below (tried one by one); the others
#: (direction, the font's style and stretch, five of its variants, its variation settings
#: and language override, the line height) change no answer with these fonts, so no wrong
#: answer can show here: the key names them all the same (the source test below).
VARIED = [
    ("en", ""),
    ("en", "width: 121px"),
    ("en", "font-size: 11px"),
    ("en", "font-weight: bold"),
    ("en", "font-style: italic"),
    ("en", "font-family: serif"),
    ("en", "font-stretch: condensed"),
    ("en", "letter-spacing: 1px"),
    ("en", "word-spacing: 4px"),
    ("en", "white-space: nowrap"),
    ("en", "text-decoration: underline"),
    ("en", "font-variant-caps: small-caps"),
    ("en", "font-variant-numeric: oldstyle-nums"),
    ("en", "font-variant-ligatures: none"),
    ("en", "font-variant-position: super"),
    ("en", "font-variant-east-asian: full-width"),
    ("en", "font-variant-alternates: historical-forms"),
    ("en", "font-kerning: none"),
    ("en", "font-feature-settings: 'liga' 0, 'kern' 0"),
    ("en", "font-variation-settings: 'wght' 700"),
    ("en", "font-language-override: 'TRK'"),
    ("en", "direction: rtl"),
    ("en", "line-height: 3"),
    ("en", "white-space: pre"),
    ("en", "white-space: pre; tab-size: 2"),
    ("en", "width: 40px"),
    ("en", "width: 40px; overflow-wrap: anywhere"),
    ("en", "width: 40px; word-break: break-all"),
    ("en", "width: 70px"),
    ("en", "width: 70px; hyphens: auto"),
    ("de", "width: 70px; hyphens: auto"),
    ("en", "width: 70px; hyphens: auto; hyphenate-character: '~'"),
    ("en", "width: 70px; hyphens: auto; hyphenate-limit-chars: 12 6 6"),
    ("en", "width: 70px; hyphens: auto; hyphenate-limit-zone: 30px"),
]
SENTENCE = "Internationalisation of 1,234 readouts:\tshipping treatment is ffine, officially."


def _varied_page() -> str:
    blocks = "\n".join(
        f'<p lang="{lang}" style="width: 200px; text-align: right; {style}">{SENTENCE}</p>'
        for lang, style in VARIED
    )
    table = f"<table><tr><td>{SENTENCE}</td></tr></table>"
    return f"<!doctype html><html><body>{blocks}{table}</body></html>"


def test_a_readouts_page_prints_the_same_with_its_first_lines_remembered(paywall, monkeypatch):
    assert _line_modules()[0].split_first_line.remembered  # the printer's own
    counted = _counted(calls := [])
    _with_lines(monkeypatch, _weasyprints())
    plain = _pdf(paywall)
    _with_lines(monkeypatch, weasy.first_line(counted))
    first = _pdf(paywall)
    asked_first = len(calls)
    again = _pdf(paywall)
    assert first == plain and again == plain
    # The first print asked WeasyPrint again for lines it had laid out (a table's cells at
    # their minimum and maximum widths, the SVG chart's letters); the second, for none.
    assert asked_first > 0 and len(calls) == asked_first


def _answer(found) -> tuple:
    """A first line's answer as numbers: its layout's text and metrics, then the rest."""
    return tuple(sorted(vars(found[0]).items())), *found[1:]


def test_every_answer_remembered_is_weasyprints_own(monkeypatch):
    """A property left out of the key would hand one block's lines to another."""
    asks = _weasyprints()
    remembered = weasy.first_line(asks)
    wrong = []

    def checked(*args, **kwargs):
        found = remembered(*args, **kwargs)
        if _answer(found) != _answer(asks(*args, **kwargs)):
            wrong.append(args[0])
        return found

    _with_lines(monkeypatch, checked)
    _pdf(_varied_page())
    assert len(remembered.memo) >= len(VARIED)
    assert not wrong


def test_a_page_of_every_line_style_prints_the_same_with_its_lines_remembered(monkeypatch):
    page = _varied_page()
    _with_lines(monkeypatch, _weasyprints())
    plain = _pdf(page)
    _with_lines(monkeypatch, weasy.first_line(_weasyprints()))
    assert _pdf(page) == plain


def test_the_lines_kept_are_bounded(monkeypatch):
    calls: list = []
    remembered = weasy.first_line(_counted(calls), kept=5)
    _with_lines(monkeypatch, remembered)
    _pdf(_varied_page())
    assert len(remembered.memo) == 5 and len(calls) > 5


def test_the_line_style_names_every_property_weasyprints_line_reads():
    """WeasyPrint's line breaking and font description read these properties only."""
    import weasyprint.text.fonts as fonts
    import weasyprint.text.line_break as line_break

    read = set()
    for module in (line_break, fonts):
        text = Path(module.__file__).read_text()
        read |= set(re.findall(r"style\[['\"](\w+)['\"]\]", text))
        assert "style.get(" not in text  # a property read another way would be missed
    assert read and read <= set(weasy.LINE_STYLE)


def test_a_page_prints_the_same_without_the_notes_pseudo_elements(paywall, monkeypatch):
    assert not weasy.may_have_notes(paywall)
    trimmed_sheets = []
    trim = weasy._trimmed
    monkeypatch.setattr(weasy, "_trimmed", lambda s: trimmed_sheets.append(s) or trim(s))
    trimmed = _pdf(paywall)
    assert trimmed_sheets  # the print read the trimmed stylesheet
    monkeypatch.setattr(weasy, "without_notes", lambda source: None)
    assert _pdf(paywall) == trimmed


def test_the_trimmed_stylesheet_lacks_only_the_notes_selectors():
    import weasyprint.html

    sheet = weasyprint.html.UA_STYLESHEET
    trimmed = weasy._trimmed(sheet)
    pseudo = [e[3] for e in sheet.matcher.other_selectors]
    kept = [e[3] for e in trimmed.matcher.other_selectors]
    assert set(pseudo) & weasy.NOTES == weasy.NOTES  # WeasyPrint still gives every element them
    assert not set(kept) & weasy.NOTES
    assert kept == [p for p in pseudo if p not in weasy.NOTES]
    assert trimmed.matcher.id_selectors is sheet.matcher.id_selectors
    assert weasy._trimmed(sheet) is trimmed  # once a stylesheet


def test_the_shipped_stylesheets_make_no_footnote_or_note():
    for css in (ROOT / "templates").rglob("*.css"):
        assert not weasy.may_have_notes(css.read_text()), css
    assert not weasy.may_have_notes(*render.COMPACT_CSS)


@pytest.mark.parametrize(
    "footnote",
    [
        "style='float: footnote'",
        "style='float: FOOTNOTE'",  # CSS keywords in any case
        r"style='float: foot\6e ote'",  # an escaped letter
        "class='n'",  # a rule of a stylesheet the page links to (read by WeasyPrint only)
    ],
)
def test_a_page_with_a_footnote_prints_it(tmp_path_factory, footnote):
    css = tmp_path_factory.mktemp("linked") / "n.css"  # a path that names no footnote
    css.write_text(".n { float: footnote }")
    assert not weasy.may_have_notes(css.as_uri())
    page = (
        f"<!doctype html><html><head><link rel='stylesheet' href='{css.as_uri()}'>"
        f"</head><body><p>A claim<span {footnote}>Its source, at the foot of the page.</span>"
        " and more.</p></body></html>"
    )
    words = pdf_text(_pdf(page))
    # A footnote: its call in the sentence, its text at the foot of the page, after it.
    assert "A claim1 and more." in words
    assert words.index("and more.") < words.index("Its source, at the foot of the page.")


def test_a_font_face_added_later_lays_its_lines_out_afresh(monkeypatch):
    """A family that fell back to another font, then added as a face of its own."""
    text = "A sentence long enough to be broken over several lines of this narrow block, twice."
    body = f'<body><p style="width: 150px; font-family: Later, monospace">{text}</p></body>'
    face = "<style>@font-face { font-family: Later; src: url(fonts/DejaVuSans-Bold.ttf) }</style>"
    before, after = f"<html><head></head>{body}</html>", f"<html><head>{face}</head>{body}</html>"
    remembered = weasy.first_line(_weasyprints())
    _with_lines(monkeypatch, remembered)
    _pdf(before)  # its lines remembered in monospace
    printed = _pdf(after)
    _with_lines(monkeypatch, _weasyprints())
    assert _pdf(after) == printed


def test_a_long_text_is_laid_out_afresh(monkeypatch):
    long = " ".join(["readout"] * (weasy.LONGEST_TEXT // 7))
    page = f"<html><body><table><tr><td>{long}</td><td>short</td></tr></table></body></html>"
    remembered = weasy.first_line(_weasyprints())
    _with_lines(monkeypatch, remembered)
    printed = _pdf(page)
    assert remembered.memo and max(len(key[0]) for key in remembered.memo) <= weasy.LONGEST_TEXT
    _with_lines(monkeypatch, _weasyprints())
    assert _pdf(page) == printed
