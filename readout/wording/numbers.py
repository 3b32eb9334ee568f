"""Numbers in words: one set of rules for every sentence, table cell and caption.

Numbers are rounded to about a tenth of their interval's width (the Monte Carlo error of
an interval's ends is far smaller than that); probabilities never print as 0% or 100%;
every interval is quoted with its probability and kind through :func:`estimate` and
:func:`hdi_range`, so "94% HDI" is never typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import MISSING

from analyses.core.formats import ci_label, prob

__all__ = [
    "Units",
    "between",
    "decimals_for",
    "estimate",
    "field",
    "hdi_range",
    "interval",
    "number",
    "p_value",
    "prob",
    "rel_places",
    "relative",
    "signed",
    "small",
    "span",
    "width",
]

#: A bundle: its analysis's typed model.
Bundle = Any
#: A formatter of one value at a number of decimals: ``fmt(0.123, 2) -> "+12.30%"``.
Formatter = Callable[[float, int], str]


def field(record: Any, name: str, default: Any = None) -> Any:
    """A field of a typed record (``record.name``), or ``default`` where it is not given.

    A dict's key is read the same way: the bundle's ``spec`` is kept as the config's plain
    table.
    """
    if isinstance(record, Mapping):
        value = record.get(name, default)
    else:
        value = getattr(record, name, default)
    return default if value is MISSING else value


def p_value(p: float) -> str:
    """A p-value as quoted: ``p < 0.001``, ``p = 0.0042``, ``p = 0.24``."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def small(x: float, places: int, fmt: Formatter, approx: bool = False) -> str:
    """A small non-negative amount, or "less than" the smallest step shown at ``places``.

    With ``approx`` a shown amount reads "about ...", for use inside a sentence.
    """
    if round(x, places) == 0:
        return "less than " + fmt(10.0**-places, places)
    return ("about " if approx else "") + fmt(x, places)


def decimals_for(width: float) -> int:
    """Decimal places that show about a tenth of an interval's width.

    The interval's width is far larger than the Monte Carlo error of its ends, so rounding
    to a tenth of it never hides a real digit and never shows a noisy one. Negative
    results round to tens, hundreds, ...
    """
    if not width or not math.isfinite(width) or width <= 0:
        return 2
    return -(math.floor(math.log10(abs(width))) - 1)


def number(x: float, places: int, signed: bool = False) -> str:
    """Format ``x`` rounded to ``places`` decimals (negative: tens, hundreds) with commas.

    A non-zero number never prints as zero: it gets up to three more decimals, so an
    interval that excludes zero never appears to touch it.
    """
    while x != 0 and round(x, places) == 0 and places < 6:
        places = max(places, 0) + 1
    value = round(x, places)
    text = f"{abs(value):,.{max(places, 0)}f}"
    if value == 0:
        return "0" if places <= 0 else text
    sign = "-" if value < 0 else ("+" if signed else "")
    return sign + text


#: A no-break space: between a number and its unit, or a bound and its "≤".
NBSP = "\u00a0"


@dataclass(frozen=True)
class Units:
    """How the values of one metric are written: prefix, suffix and percent scaling."""

    prefix: str = ""
    suffix: str = ""
    percent: bool = False

    @classmethod
    def of(cls, spec: Any, percent: bool = False) -> Units:
        """The units a spec's (or key numbers') ``value_prefix`` and ``value_suffix`` give."""
        return cls(field(spec, "value_prefix") or "", field(spec, "value_suffix") or "", percent)

    def value(self, x: float, places: int, signed: bool = False) -> str:
        """A level of the metric: ``$91,100``, ``10.2%``."""
        if self.percent:
            return number(100 * x, places, signed) + "%"
        text = number(x, places, signed)
        sign = text[0] if text[0] in "+-" else ""
        # A unit after a space stays on the number's line ("1,123.7 ms", not "1,123.7 / ms").
        suffix = NBSP + self.suffix[1:] if self.suffix.startswith(" ") else self.suffix
        if text.lstrip("+-") == "1":  # "-1 point", not "-1 points"
            suffix = singular(suffix)
        return f"{sign}{self.prefix}{text.lstrip('+-')}{suffix}"

    def diff(self, x: float, places: int, signed: bool = True) -> str:
        """A difference of the metric: ``+1.2 percentage points``, ``+$29,000``."""
        if self.percent:
            text = number(100 * x, places, signed)
            return (
                text + singular(" percentage points")
                if text.lstrip("+-") == "1"
                else (text + " percentage points")
            )
        return self.value(x, places, signed)

    def places(self, width: float) -> int:
        """Decimals for values whose interval has this width."""
        return decimals_for(100 * width if self.percent else width)


def capital(text: str) -> str:
    """``text`` with its first letter upper-case (``str.capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def relative(x: float, places: int, signed: bool = True) -> str:
    """A relative change as a signed percentage: ``+12.3%``."""
    return number(100 * x, places, signed) + "%"


def rel_places(summary: Any) -> int:
    """Decimals for a relative lift summary (in percent)."""
    low, high = field(summary, "hdi")
    return decimals_for(100 * (high - low))


def interval(bundle: Bundle) -> str:
    """The interval's name as quoted in every sentence: ``94% HDI``."""
    return ci_label(field(bundle, "ci_prob"), field(bundle, "ci_kind"))


def width(summary: Any) -> float:
    """The width of a summary's interval."""
    low, high = field(summary, "hdi")
    return high - low


def signed(fmt: Callable[..., str]) -> Formatter:
    """A formatter that always shows the sign: ``+0.28``."""
    return lambda x, places: fmt(x, places, True)


def span(hdi: Sequence[float], fmt: Formatter, places: int) -> str:
    """The ends of an interval: ``+1.7% to +3.9%``."""
    return f"{fmt(hdi[0], places)} to {fmt(hdi[1], places)}"


def between(hdi: Sequence[float], fmt: Formatter, places: int) -> str:
    """The ends of an interval inside a sentence: ``between +1.7% and +3.9%``."""
    return f"between {fmt(hdi[0], places)} and {fmt(hdi[1], places)}"


def hdi_range(bundle: Bundle, hdi: Sequence[float], fmt: Formatter, places: int) -> str:
    """An interval with its name: ``94% HDI +1.7% to +3.9%``."""
    return f"{interval(bundle)} {span(hdi, fmt, places)}"


def estimate(bundle: Bundle, summary: Any, fmt: Formatter, places: int) -> str:
    """The one phrase for an estimate and its interval: ``+2.8% (94% HDI +1.7% to +3.9%)``."""
    mean, hdi = field(summary, "mean"), field(summary, "hdi")
    return f"{fmt(mean, places)} ({hdi_range(bundle, hdi, fmt, places)})"


def article(word: str) -> str:
    """The indefinite article a word takes: ``an effect``, ``a user``, ``a unit``.

    By its first letter, with the vowels said as a consonant (``u`` as in user, ``eu``,
    ``one``) taking ``a``.
    """
    low = word.lower()
    said_as_consonant = low.startswith(("uni", "use", "usu", "ure", "eu", "one"))
    return "an" if low[:1] and low[0] in "aeiou" and not said_as_consonant else "a"


def singular(suffix: str) -> str:
    """A unit word's singular, for a value of exactly 1: `` points`` -> `` point``.

    Only words (four letters or more, ending in s); an abbreviation (``ms``) stays.
    """
    words = suffix.split()
    word = words[-1] if words else ""
    return suffix[:-1] if len(word) >= 4 and word.isalpha() and word.endswith("s") else suffix


def a_prob(p: float) -> str:
    """A probability with the article it takes when read aloud: "a 97%", "an 8%", "an 18%"."""
    shown = prob(p)
    whole = shown.split(".")[0]
    vowel = shown[0] not in "<>" and (whole.startswith("8") or whole in ("11", "18"))
    return ("an " if vowel else "a ") + shown


def day_text(iso: str) -> str:
    """A day as sentences write it: 19 December 2026."""
    from datetime import date

    d = date.fromisoformat(iso)
    return f"{d.day} {d:%B %Y}"
