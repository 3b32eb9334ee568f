import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[2] / "data"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", DATA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The whole demo data set generated again (about 20 s): `make test-all` and CI run it.
@pytest.mark.slow
def test_generator_is_deterministic_and_matches_the_recorded_ground_truth(tmp_path, monkeypatch):
    generate = load_generator()
    monkeypatch.setattr(generate, "HERE", tmp_path)
    generate.main()
    for name in generate.GENERATORS:
        assert pd.read_csv(tmp_path / name).equals(pd.read_csv(DATA / name)), name
    recorded = json.loads((DATA / "ground_truth.json").read_text())
    assert json.loads((tmp_path / "ground_truth.json").read_text()) == recorded
    import duckdb

    fresh = duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True)
    kept = duckdb.connect(str(DATA / "demo.duckdb"), read_only=True)
    for table in recorded["demo.duckdb"]["tables"]:
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert fresh.execute(query).fetchall() == kept.execute(query).fetchall(), table


def test_income_data_has_the_study_design():
    frame = pd.read_csv(DATA / "income_spend.csv")
    sizes = frame["income_group"].value_counts()
    assert sizes["low"] == 1103 and sizes["high"] == 384
    assert (frame["annual_spend"] > 0).all()
