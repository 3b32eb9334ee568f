"""Turn a result bundle into sentences, tables and figure text.

The wording reads only the bundle and computes no statistics. :func:`readout_text` (and
:func:`report`) validate the bundle once into its analysis's typed model
(``Analysis.bundle``, :mod:`analyses.core.results`); the words read its fields. The HTML
page, the PDF, the email and the Quarto document all take their words from here.

Each analysis has one package here, named like the analysis (``readout.wording.ab_test``),
whose ``__init__`` exports:

``body(bundle) -> Body``
    Its headline, reason, key sentences, health problems, sections, tables and figures;
    optionally the ``layout``, the ordered sections a page shows (the generic template
    renders any analysis from it).
``history(bundle) -> str``
    One line of key numbers for the experiment's history table.
``GLOSSARY``
    Its own terms, ``{term: meaning}``.
``VERDICT_LABELS``
    A label for every verdict its analysis can reach.
``WARNINGS``
    Words for every warning code its analysis can emit.
``subject(bundle, text)``, optionally
    The verdict as it ends an email subject.

The shared sections (how to read, glossary, provenance, warnings, since the last readout)
are added around the body here, from the typed envelope; ``tests/readout/test_registry.py``
checks that every analysis has all of this.

Every wording package reads the typed bundle (its analysis's model) as attributes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any

from analyses.core.results import given
from readout import bundle as bundles
from readout import registry
from readout.wording import common
from readout.wording.numbers import Bundle, capital, interval, prob
from readout.wording.pieces import Body, Figure, Section, Table, Text, Words

__all__ = [
    "Body",
    "Figure",
    "Report",
    "Section",
    "Table",
    "Text",
    "Words",
    "analysis_label",
    "history_alt",
    "history_row",
    "interval",
    "module",
    "prob",
    "readout_text",
    "report",
    "verdict_label",
]

#: What every analysis's wording package must export.
REQUIRED = ("body", "history", "GLOSSARY", "VERDICT_LABELS", "WARNINGS")

#: What each built-in analysis is called where readouts of several are listed together (the
#: Quarto listing's categories); an analysis added with ``registry.register`` shows its name.
ANALYSIS_LABELS = {
    "ab_test": "Group comparison",
    "hierarchical": "Partial pooling",
    "mixture": "Gaussian mixture",
    "regression": "Regression",
}


def module(analysis: str) -> ModuleType:
    """The wording package of an analysis."""
    return importlib.import_module(registry.wording_module(analysis))


def analysis_label(analysis: str) -> str:
    """What an analysis is called in a list of readouts: ``Group comparison``."""
    return ANALYSIS_LABELS.get(analysis, analysis)


def verdict_label(analysis: str, verdict: str) -> str:
    """The label of a verdict, as on a badge: ``Ship``, ``Verdict withheld``."""
    return module(analysis).VERDICT_LABELS[verdict]


@dataclass(frozen=True)
class Report:
    """All the words of one readout, and the sections its page shows, in order."""

    text: Text
    layout: tuple[Section, ...]


def report(bundle: dict[str, Any]) -> Report:
    """The words of one readout and its page's layout, chosen by the bundle's analysis."""
    typed = bundles.typed(bundle)
    words = module(typed.analysis)
    body: Body = words.body(typed)
    verdict = typed.decision.verdict
    text = Text(
        **{f.name: getattr(body, f.name) for f in fields(Words)},
        verdict=verdict,
        tone=str(registry.get(typed.analysis).tone(verdict)),
        verdict_label=words.VERDICT_LABELS[verdict],
        how_to_read=common.how_to_read(typed, body.example, body.answers),
        glossary=common.glossary(typed, words.GLOSSARY),
        provenance=common.provenance(typed),
        warnings=common.data_warnings(typed, words.WARNINGS),
        since_last=(
            common.since_last(typed, words.VERDICT_LABELS, getattr(words, "KEY_QUANTITIES", None))
            if given(typed.key_numbers)
            else []
        ),
    )
    return Report(text=text, layout=tuple(body.layout))


def readout_text(bundle: dict[str, Any]) -> Text:
    """All the words of one readout, chosen by the bundle's analysis."""
    return report(bundle).text


def history_row(bundle: dict[str, Any]) -> str:
    """The key numbers of one readout in a line, for the history table (a sentence's capital)."""
    typed = bundles.typed(bundle)
    words = module(typed.analysis)
    return capital(words.history(typed))


def history_alt(bundle: dict[str, Any], readouts: int) -> str:
    """Caption and alt text of an experiment's history chart, from its latest bundle."""
    typed = bundles.typed(bundle)
    named = getattr(module(typed.analysis), "KEY_QUANTITIES", None)
    return common.history_alt(typed, readouts, named)


def subject_verdict(bundle: Bundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``, ``keep collecting data``."""
    words = module(bundle["analysis"])
    if hasattr(words, "subject"):
        return words.subject(bundles.typed(bundle), text)
    return text.verdict_label[0].lower() + text.verdict_label[1:]
