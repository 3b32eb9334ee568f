"""The demo's search ranking with its p90 page-load guardrail, end to end.

From the warehouse (the histogram query) through the bundle to the HTML and the PDF: the
guardrail's interval holds the true +8% (``data/ground_truth.json``), it flags harm beyond
its 5% tolerance, and the pages say what the percentile is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from readout import bundle as bundles
from tests.pdf import pdf_text
from tests.readout.running import demo_readout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NAME = "90th percentile of each user's average page load time"


@pytest.fixture(scope="module")
def readout(tmp_path_factory) -> Path:
    return demo_readout(tmp_path_factory.mktemp("search"), "search-ranking", "2026-12-01")


def test_the_p90_guardrail_holds_the_true_effect_and_flags_harm(readout):
    bundle = json.loads((readout / "bundle.json").read_text())
    truth = json.loads((ROOT / "data" / "ground_truth.json").read_text())
    true_lift = truth["demo.duckdb"]["experiments"]["search"]["load_time_p90_lift"]
    metric = next(m for m in bundle["metrics"] if m["name"] == "load_time_p90")
    assert metric["kind"] == "quantile" and metric["quantile"] == 0.9
    (comp,) = metric["comparisons"]
    low, high = comp["lift_rel"]["hdi"]
    assert low <= true_lift <= high
    assert comp["prob_better"] < 0.001  # lower is better, and it rose
    assert metric["status"] == "harm"
    assert comp["frequentist"]["scale"] == "relative"
    # The histogram query ran in the engine and is kept with the others.
    sql = next(q["sql"] for q in bundle["queries"] if q["name"] == "quantiles")
    assert "LN(" in sql.upper() and "GROUP BY" in sql.upper()


def test_the_bundle_matches_the_published_schema(readout):
    import jsonschema

    schema = json.loads(bundles.SCHEMA_FILE.read_text())
    jsonschema.validate(json.loads((readout / "bundle.json").read_text()), schema)


def test_the_pages_name_the_percentile_in_plain_words(readout):
    pdf = pdf_text(readout / "report.pdf")
    assert NAME[0].upper() + NAME[1:] in pdf  # the scorecard on page one
    html = (readout / "report.html").read_text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")
    assert f"The {NAME} is the value that 90% of users stay at or below" in text
