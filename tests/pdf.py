"""What a readout's PDF says: its text as poppler's ``pdftotext`` reads it.

One reader of a PDF's words for every test. ``pdftotext`` (poppler-utils, which ``make
setup`` installs beside ``pdftoppm``) reads a readout's PDF in a few hundredths of a
second; pypdf's text extraction, which the tests used before, took about half a second in
pure Python for each PDF, in hundreds of tests.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def pdf_pages(pdf: Path | bytes, layout: bool = False, last: int | None = None) -> list[str]:
    """The text of each page of ``pdf`` (a file, or a PDF's bytes), as printed.

    ``layout`` keeps the columns' physical layout (``pdftotext -layout``); ``last`` stops
    after that page.
    """
    data = pdf if isinstance(pdf, bytes) else None
    args = ["pdftotext", "-enc", "UTF-8"]
    args += ["-layout"] if layout else []
    args += ["-l", str(last)] if last else []
    args += ["-" if data is not None else str(pdf), "-"]
    try:
        done = subprocess.run(args, input=data, capture_output=True, check=True)
    except FileNotFoundError:
        pytest.fail("pdftotext is missing: `make setup` installs it (Debian's poppler-utils)")
    out = done.stdout.decode()
    pages = out.split("\f")  # pdftotext ends each page with a form feed
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_text(pdf: Path | bytes, last: int | None = None) -> str:
    """The words of ``pdf``'s pages (or its first ``last``) on one line, single-spaced."""
    return " ".join(" ".join(page.split()) for page in pdf_pages(pdf, last=last))
