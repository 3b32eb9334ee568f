"""The words of a regression readout."""

from __future__ import annotations

from readout.wording.regression.words import GLOSSARY, VERDICT_LABELS, WARNINGS, body, history

__all__ = ["GLOSSARY", "VERDICT_LABELS", "WARNINGS", "body", "history"]
