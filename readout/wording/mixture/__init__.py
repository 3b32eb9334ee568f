"""The words of a mixture readout."""

from __future__ import annotations

from readout.wording.mixture.words import GLOSSARY, VERDICT_LABELS, WARNINGS, body, history

__all__ = ["GLOSSARY", "VERDICT_LABELS", "WARNINGS", "body", "history"]
