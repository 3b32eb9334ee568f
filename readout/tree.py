"""The reports tree: where readouts live and how to find them.

``<output>/<experiment>/<YYYY-MM-DD>/bundle.json`` marks a finished readout. The runner,
the site, the email and the Quarto project all find readouts through this module, so
there is one definition of "the latest readout" and of "the one before it".
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

#: A readout folder is named by its date.
DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BUNDLE = "bundle.json"
#: Where runs build readouts before moving them into place.
STAGING = ".staging"
#: Folders of the output that are not experiments: the email outbox, the Quarto project.
OUTBOX = "outbox"
QUARTO = "quarto"
#: Experiment names that would collide with them.
RESERVED = (OUTBOX, QUARTO)


def readouts(output: Path, name: str) -> list[Path]:
    """Every finished readout folder of an experiment, oldest first."""
    folder = output / name
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and DATE_FOLDER.match(p.name) and (p / BUNDLE).is_file()
    )


def latest(output: Path, name: str) -> Path | None:
    """The newest readout folder of an experiment, if any."""
    found = readouts(output, name)
    return found[-1] if found else None


def previous(output: Path, name: str, readout_date: str) -> Path | None:
    """The newest readout folder dated before ``readout_date``, if any."""
    earlier = [p for p in readouts(output, name) if p.name < readout_date]
    return earlier[-1] if earlier else None


def readout_folder(output: Path, name: str, readout_date: str) -> Path:
    """Where the readout of ``name`` on ``readout_date`` lives (whether or not it exists)."""
    return output / name / readout_date


def staging_root(output: Path) -> Path:
    """The folder in which runs build readouts before publishing them."""
    return output / STAGING


def trash_name(final: Path) -> str:
    """A name for the readout ``final`` while a newer one replaces it: says where it lived."""
    return f"trash--{final.parent.name}--{final.name}--{uuid.uuid4().hex}"


def clean_staging(output: Path) -> list[str]:
    """Remove what dead runs left in the staging folder; call holding the output's lock.

    A run killed mid-publish may have moved the old readout aside before moving the new one
    in: such a readout is put back where it lived. Returns what was restored.
    """
    root = staging_root(output)
    if not root.is_dir():
        return []
    restored = []
    for entry in root.iterdir():
        parts = entry.name.split("--")
        if len(parts) == 4 and parts[0] == "trash" and DATE_FOLDER.match(parts[2]):
            final = readout_folder(output, parts[1], parts[2])
            if not final.exists() and (entry / BUNDLE).is_file():
                os.replace(entry, final)
                restored.append(f"{parts[1]}/{parts[2]}")
                continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return restored
