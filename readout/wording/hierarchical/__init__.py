"""The words of a hierarchical (partial pooling) readout."""

from __future__ import annotations

from readout.wording.hierarchical.words import GLOSSARY, VERDICT_LABELS, WARNINGS, body, history

#: Transitional: this wording still reads the bundle as a plain dict (see
#: :func:`readout.wording.readout_text`); the next round converts it and removes the flag.
TYPED = False

__all__ = ["TYPED", "GLOSSARY", "VERDICT_LABELS", "WARNINGS", "body", "history"]
