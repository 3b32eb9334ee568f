"""The typed pieces a readout's words come in, rendered alike in HTML, PDF, email and Quarto."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """Caption and alt text of one figure: chart type, data and the key finding."""

    caption: str
    alt: str


@dataclass(frozen=True)
class Table:
    """A table of words and numbers with a title, a header row and body rows.

    ``empty`` is said instead of an empty table.
    """

    title: str
    head: list[str]
    rows: list[list[str]]
    empty: str = ""


@dataclass(frozen=True)
class Section:
    """One section of a report page, in the order the wording declares.

    The generic template (``templates/readout.html.j2``) renders any analysis from these:
    the section's title and paragraphs, then its tables and figures (by their keys in the
    body's ``tables`` and ``figures``; a figure the bundle did not draw is left out).

    Attributes
    ----------
    id
        The section's anchor on the page (and its key in ``Body.sections``).
    title
        Its heading, listed in the contents.
    paragraphs
        Its sentences, one paragraph each.
    tables, figures
        Keys of the tables and figures it shows, in order.
    lead
        Shown above the contents, next to the summary (the main chart and table).
    print, screen
        Whether the PDF (print) and the page (screen) show it; the PDF keeps page one for
        the verdict and the numbers a decision needs.
    """

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    lead: bool = False
    print: bool = True
    screen: bool = True


@dataclass(frozen=True)
class Words:
    """What one analysis's wording says about a readout: the parts every report shows.

    Attributes
    ----------
    sections
        Named lists of paragraphs that an analysis's template places.
    tables, figures
        Tables and figure texts by key.
    example
        The kind of probability the "How to read this report" box explains
        (``chance that B is better``).
    """

    headline: str
    reason: str
    key_sentences: list[str]
    health: list[str]
    notes: list[str]
    sections: dict[str, list[str]]
    tables: dict[str, Table]
    figures: dict[str, Figure]
    example: str


@dataclass(frozen=True)
class Body(Words):
    """What an analysis's wording package returns; the shared sections are added around it.

    Attributes
    ----------
    layout
        The page's sections in order (:class:`Section`), for the generic template; an
        analysis with its own template may leave it empty.
    answers
        What its verdict answers ("whether to ship"), for the "How to read" box.
    """

    layout: tuple[Section, ...] = ()
    #: What the verdict answers, for the "How to read" box ("whether to ship").
    answers: str = ""


def body(
    *,
    headline: str,
    reason: str,
    key_sentences: list[str],
    layout: tuple[Section, ...],
    tables: dict[str, Table],
    figures: dict[str, Figure],
    example: str,
    health: list[str] | None = None,
    notes: list[str] | None = None,
    answers: str = "",
) -> Body:
    """A :class:`Body` whose named sections are its layout's paragraphs (written once)."""
    return Body(
        headline=headline,
        reason=reason,
        key_sentences=key_sentences,
        health=health or [],
        notes=notes or [],
        sections={s.id: list(s.paragraphs) for s in layout},
        tables=tables,
        figures=figures,
        example=example,
        layout=layout,
        answers=answers,
    )


@dataclass(frozen=True)
class Text(Words):
    """Everything a report says: an analysis's words and the sections every report shares.

    Attributes
    ----------
    verdict, tone, verdict_label
        The analysis's verdict code, its tone (good, bad, neutral, withheld) and its label.
    """

    verdict: str = ""
    tone: str = "neutral"
    verdict_label: str = ""
    how_to_read: list[str] = field(default_factory=list)
    glossary: list[tuple[str, str]] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    since_last: list[str] = field(default_factory=list)
