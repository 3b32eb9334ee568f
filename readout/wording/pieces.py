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
class Body:
    """What one analysis's wording module says; the shared sections are added around it.

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
class Text(Body):
    """Everything a report says: an analysis's body and the sections every report shares.

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
