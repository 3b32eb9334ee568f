"""A signed amount of money stays on one line in HTML and PDF (never "+" / "$0.82")."""

from __future__ import annotations

import shutil

import pytest

from readout.render import WORD_JOINER, environment
from tests.pdf import pdf_pages

CELL = "Revenue per user +$0.82 to -$0.04 and +$1,234.5 or -$7"


def test_a_sign_and_its_currency_symbol_are_joined_in_text_and_attributes():
    html = environment().from_string('<td title="{{ x }}">{{ x }}</td>').render(x=CELL)
    assert html.count("+" + WORD_JOINER + "$") == 4
    assert html.count("-" + WORD_JOINER + "$") == 4
    assert "a-b" in environment().from_string("{{ x }}").render(x="a-b")  # no money: as is


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_a_narrow_pdf_table_cell_never_breaks_a_sign_from_its_amount(tmp_path):
    import weasyprint

    # Too many columns for the page: each shrinks to its narrowest unbreakable piece.
    row = "".join("<td>{{ x }}</td>" for _ in range(7))
    html = environment().from_string(f"<table><tr>{row}</tr></table>").render(x=CELL)
    pdf = tmp_path / "cells.pdf"
    weasyprint.HTML(string=html).write_pdf(pdf)
    text = "\n".join(pdf_pages(pdf, layout=True))
    words = text.split()
    assert words.count("per") == 7  # every cell printed
    assert words.count("+$0.82") == 7, words
    assert words.count("-$0.04") == 7, words
    assert "+" not in words and "-" not in words, words
