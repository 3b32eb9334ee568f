import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={ROOT / '.cache' / 'pytensor'}")
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".cache" / "matplotlib"))

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with its own data/ and an empty reports/, like a user's project."""
    (tmp_path / "data").mkdir()
    return tmp_path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def copy_demo(name: str, target: Path) -> Path:
    source = ROOT / "data" / name
    if not source.is_file():
        pytest.fail(f"{source} is missing: run `make data` first")
    return Path(shutil.copy(source, target))
