"""A pooling readout end to end through the CLI (real sampling, kept small)."""

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from readout import bundle as bundles
from tests.pdf import pdf_text
from tests.readout.running import copy_data, run

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[settings]
draws = 400
tune = 400
chains = 2

[[experiments]]
name = "eight-schools"
title = "Eight schools"
analysis = "hierarchical"
data = "data/eight_schools.csv"
unit = "school"
estimate = "estimate"
std_error = "std_error"
unit_label = "school"
value_suffix = " points"
"""


@pytest.fixture(scope="module")
def readout(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pooling")
    copy_data(root, "eight_schools.csv")
    (root / "experiments.toml").write_text(CONFIG)
    result = run(root / "experiments.toml", root / "reports", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    return root / "reports" / "eight-schools" / "2026-11-20"


@pytest.mark.slow
def test_pooling_readout_is_complete_and_valid(readout):
    data = json.loads((readout / "bundle.json").read_text())
    schema = json.loads(bundles.SCHEMA_FILE.read_text())
    jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())
    units = pd.read_csv(readout / "units.csv")
    assert len(units) == 8 and set(units["unit"]) == set("ABCDEFGH")
    # Pooling pulls every school toward the average: the spread of estimates shrinks.
    assert units["mean"].std() < units["raw_estimate"].std()
    assert data["tables"] == [{"key": "units", "file": "units.csv", "rows": 8}]
    html = (readout / "report.html").read_text()
    assert 'href="units.csv"' in html
    assert "pulled" in html and "94% HDI" in html
    text = pdf_text(readout / "report.pdf")
    assert "Moved most by pooling" not in text  # the long tables stay in the HTML
    assert "School" in text and "94% HDI" in text


@pytest.mark.slow
def test_a_verdict_about_these_units_says_so_where_units_in_general_are_unclear(readout):
    data = json.loads((readout / "bundle.json").read_text())
    low, high = data["hyper"]["mu"]["hdi"]
    assert data["decision"]["verdict"] == "positive" and low < 0 < high
    assert data["decision"]["population_clear"] is False
    html = " ".join((readout / "report.html").read_text().split())
    assert "above zero for these schools, not clearly for schools in general" in html
