"""The words of an A/B readout, by reason to change.

``common`` (labels and the comparison sentences every part shares), ``tables`` (arms,
comparisons, scorecard, segments), ``model`` (priors, sensitivity, the traditional test,
checks), ``notes`` (forecast, revenue's parts, CUPED, caveats) and ``words`` (the readout's
headline, key sentences, sections and figure texts).
"""

from __future__ import annotations

from readout.wording.ab_test.common import VERDICT_LABELS
from readout.wording.ab_test.words import GLOSSARY, WARNINGS, body, history, subject

__all__ = ["GLOSSARY", "VERDICT_LABELS", "WARNINGS", "body", "history", "subject"]
