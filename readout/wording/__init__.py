"""Turn a result bundle into sentences, tables and figure text.

The wording reads only the bundle (a plain dict loaded from ``bundle.json``) and computes
no statistics. The HTML page, the PDF, the email and the Quarto document all take their
words from :func:`readout_text`.

Each analysis has one module here, named like the analysis (``readout.wording.ab_test``),
that exports:

``body(bundle) -> Body``
    Its headline, reason, key sentences, health problems, sections, tables and figures.
``history(bundle) -> str``
    One line of key numbers for the experiment's history table.
``GLOSSARY``
    Its own terms, ``{term: meaning}``.
``VERDICT_LABELS``
    A label for every verdict its analysis can reach.
``WARNINGS``
    Words for every warning code its analysis can emit.

The shared sections (how to read, glossary, provenance, warnings, since the last readout)
are added around the body here; ``tests/readout/test_registry.py`` checks that every
analysis has all of this.
"""

from __future__ import annotations

import importlib
from dataclasses import fields
from types import ModuleType

from readout import registry
from readout.wording import common
from readout.wording.numbers import Bundle, capital, interval, prob
from readout.wording.pieces import Body, Figure, Table, Text

__all__ = [
    "Body",
    "Figure",
    "Table",
    "Text",
    "history_row",
    "interval",
    "module",
    "prob",
    "readout_text",
    "verdict_label",
]

#: What every analysis's wording module must export.
REQUIRED = ("body", "history", "GLOSSARY", "VERDICT_LABELS", "WARNINGS")


def module(analysis: str) -> ModuleType:
    """The wording module of an analysis."""
    return importlib.import_module(f"readout.wording.{analysis}")


def verdict_label(analysis: str, verdict: str) -> str:
    """The label of a verdict, as on a badge: ``Ship``, ``Verdict withheld``."""
    return module(analysis).VERDICT_LABELS[verdict]


def readout_text(bundle: Bundle) -> Text:
    """All the words of one readout, chosen by the bundle's analysis."""
    words = module(bundle["analysis"])
    body: Body = words.body(bundle)
    verdict = bundle["decision"]["verdict"]
    return Text(
        **{f.name: getattr(body, f.name) for f in fields(Body)},
        verdict=verdict,
        tone=str(registry.get(bundle["analysis"]).tone(verdict)),
        verdict_label=words.VERDICT_LABELS[verdict],
        how_to_read=common.how_to_read(bundle, body.example),
        glossary=common.glossary(bundle, words.GLOSSARY),
        provenance=common.provenance(bundle),
        warnings=common.data_warnings(bundle, words.WARNINGS),
        since_last=(
            common.since_last(bundle, words.VERDICT_LABELS) if "key_numbers" in bundle else []
        ),
    )


def history_row(bundle: Bundle) -> str:
    """The key numbers of one readout in a line, for the history table (a sentence's capital)."""
    return capital(module(bundle["analysis"]).history(bundle))


def subject_verdict(bundle: Bundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``, ``keep collecting data``."""
    words = module(bundle["analysis"])
    if hasattr(words, "subject"):
        return words.subject(bundle, text)
    return text.verdict_label[0].lower() + text.verdict_label[1:]
