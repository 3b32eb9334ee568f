"""Code run in a fresh Python process, as the tests' helpers that need one (a first import)."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def last_line(script: str, *args: str) -> str:
    """The last line ``script`` prints, run with ``args`` in a fresh Python at the repo's root.

    The process must succeed. Its imports, collector and libraries are its own: nothing the
    test process holds changes.
    """
    run = [sys.executable, "-c", script, *args]
    out = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[-1]


def in_fresh_process(script: str, *args: str) -> Any:
    """What ``script`` prints as JSON on its last line, run as :func:`last_line` runs it."""
    return json.loads(last_line(script, *args))
