"""The words of a hierarchical (partial pooling) readout."""

from __future__ import annotations

from readout.wording.hierarchical.words import GLOSSARY, VERDICT_LABELS, WARNINGS, body, history

__all__ = ["GLOSSARY", "VERDICT_LABELS", "WARNINGS", "body", "history"]
