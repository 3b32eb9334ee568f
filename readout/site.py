"""The internal site: ``index.html`` of all experiments and one page per experiment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readout import render, wording
from readout.bundle import atomic_write_text, read

if TYPE_CHECKING:
    from readout.config import Config
    from readout.runner import Outcome

STATUS_FILE = ".status.json"


def record_status(output: Path, outcomes: list[Outcome]) -> None:
    """Remember how each experiment's last run ended, for the index page."""
    path = output / STATUS_FILE
    status = json.loads(path.read_text()) if path.is_file() else {}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for o in outcomes:
        status[o.name] = {"code": o.code, "message": o.message, "when": now}
    atomic_write_text(path, json.dumps(status, indent=2) + "\n")


def readouts(output: Path, name: str) -> list[dict[str, Any]]:
    """Every readout of an experiment, newest first, with its summary words."""
    folder = output / name
    found = []
    if folder.is_dir():
        for sub in sorted(folder.iterdir(), reverse=True):
            if (sub / "bundle.json").is_file():
                bundle = read(sub / "bundle.json")
                text = wording.readout_text(bundle)
                found.append(
                    {
                        "date": sub.name,
                        "bundle": bundle,
                        "text": text,
                        "history": wording.history_row(bundle),
                        "healthy": not text.health,
                    }
                )
    return found


def write_site(config: Config, output: Path) -> None:
    """Write ``index.html`` and each experiment's ``index.html``."""
    status_path = output / STATUS_FILE
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    entries = []
    for experiment in config.experiments:
        history = readouts(output, experiment.name)
        last = status.get(experiment.name)
        failure = last if last and last["code"] != 0 else None
        entry = {
            "name": experiment.name,
            "title": experiment.spec.title,
            "history": history,
            "latest": history[0] if history else None,
            "failure": failure,
        }
        entries.append(entry)
        if history or failure:
            html = render.page("experiment.html.j2", entry=entry)
            atomic_write_text(output / experiment.name / "index.html", html)
    entries.sort(key=lambda e: e["latest"]["date"] if e["latest"] else "", reverse=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    atomic_write_text(
        output / "index.html", render.page("index.html.j2", entries=entries, generated=generated)
    )
