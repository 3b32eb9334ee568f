"""The ``[programme] history`` file: experiments read before readout, as summaries."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from analyses.core import programme as pg
from readout.errors import ConfigError

#: The columns of a ``[programme] history`` file; ``higher_is_better`` and ``verdict`` optional.
HISTORY_COLUMNS = ("experiment", "title", "ended", "kind", "lift", "se")
OPTIONAL_COLUMNS = ("higher_is_better", "verdict")
#: The verdicts a finished experiment may have (``ship``: its change was shipped).
HISTORY_VERDICTS = ("ship", "keep_control", "no_difference", "keep_collecting")


@dataclass(frozen=True)
class Past:
    """One experiment of the programme: its primary lift's estimate on the log scale."""

    name: str
    title: str
    kind: str
    higher_is_better: bool
    y: float
    s: float
    verdict: str
    finished: bool
    #: ``history`` (the history file), ``ended`` (a readout the config no longer names) or
    #: ``config`` (a configured experiment's latest readout).
    source: str
    ended: str = ""

    @property
    def group(self) -> str:
        """The pool it learns in: its primary metric's kind and direction."""
        return f"{self.kind}:{'higher' if self.higher_is_better else 'lower'}"


def _bad(config: Path, problem: str, fix: str) -> ConfigError:
    return ConfigError(str(config), f"[programme] history: {problem}", fix)


def read_history(history: str | None, config_path: Path) -> tuple[Past, ...]:
    """The finished experiments of a ``[programme] history`` CSV file (none without one).

    Raises
    ------
    ConfigError
        When the file is missing, lacks a column, or a value is not what its column holds.
    """
    if history is None:
        return ()
    path = (config_path.parent / history).resolve()
    fix_columns = f"give it the columns {', '.join(HISTORY_COLUMNS)} (see README, 'The programme')"
    if not path.is_file():
        raise _bad(
            config_path, f"file '{history}' not found", "fix the path (relative to the config)"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = set(rows[0]) if rows else set()
    missing = [c for c in HISTORY_COLUMNS if c not in columns]
    if missing:
        raise _bad(config_path, f"'{history}' lacks column(s) {', '.join(missing)}", fix_columns)
    found = []
    for line, row in enumerate(rows, start=2):
        where = f"'{history}' line {line}"
        try:
            lift, se = float(row["lift"]), float(row["se"])
        except ValueError:
            raise _bad(
                config_path, f"{where}: lift and se must be numbers", "write them as 0.021"
            ) from None
        if not (math.isfinite(lift) and math.isfinite(se) and se > 0 and lift > -1):
            raise _bad(
                config_path,
                f"{where}: lift {row['lift']} and se {row['se']} are out of range",
                "give a relative lift above -1 (0.021 for +2.1%) and a standard error above 0",
            )
        verdict = (row.get("verdict") or "keep_collecting").strip()
        if verdict not in HISTORY_VERDICTS:
            raise _bad(
                config_path, f"{where}: verdict '{verdict}'", f"use one of {HISTORY_VERDICTS}"
            )
        higher = (row.get("higher_is_better") or "true").strip().lower()
        if higher not in ("true", "false"):
            raise _bad(config_path, f"{where}: higher_is_better '{higher}'", "write true or false")
        (y,), (s,) = pg.from_lift([lift], [se])
        found.append(
            Past(
                name=row["experiment"],
                title=row["title"],
                kind=row["kind"],
                higher_is_better=higher == "true",
                y=float(y),
                s=float(s),
                verdict=verdict,
                finished=True,
                source="history",
                ended=row["ended"],
            )
        )
    return tuple(found)
