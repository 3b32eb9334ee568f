"""The demo's paywall readout end to end: revenue with zeros, segments with a tiny level, and
the forecast, from the warehouse through the bundle to the HTML and the PDF."""

import json
import re
from pathlib import Path

import pytest

from analyses.core.formats import prob
from tests.pdf import pdf_text
from tests.readout.running import demo_readout

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def paywall(tmp_path_factory) -> Path:
    return demo_readout(tmp_path_factory.mktemp("paywall"), "paywall", "2026-11-21")


def text_of(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_the_bundle_has_revenue_parts_every_segment_level_and_a_forecast(paywall):
    bundle = json.loads((paywall / "bundle.json").read_text())
    truth = json.loads((ROOT / "data" / "ground_truth.json").read_text())
    truth = truth["demo.duckdb"]["experiments"]["paywall"]
    revenue = bundle["metrics"][0]
    assert revenue["kind"] == "revenue" and bundle["decision"]["verdict"] == "keep_collecting"
    paying = revenue["parts"][0]["paying"]
    for arm, key in (("control", "control"), ("treatment", "treatment")):
        low, high = paying[key]["hdi"]
        assert low < truth["purchase_rate"][arm] < high
    levels = {s["level"]: s for s in bundle["segments"] if s["metric"] == "revenue"}
    assert set(levels) == {"DE", "FR", "IS", "JP", "US"}
    assert levels["IS"]["few_units"] and not levels["US"]["few_units"]
    forecast = bundle["forecast"]
    assert [h["days"] for h in forecast["horizons"]] == [7, 14, 28]
    chances = [h["prob_decision"] for h in forecast["horizons"]]
    assert chances == sorted(chances)  # more data, more often a decision
    # The exposure times span the generator's 10 days (12,000 users), then stop: traffic has
    # stalled, and the forecast (conditional on it resuming) uses the rate it had while it ran,
    # not one diluted by the days without any (review finding 2).
    span = (forecast["last"] - forecast["first"]) / 86_400
    assert span == pytest.approx(truth["days"], rel=0.02)
    stalled = [w for w in bundle["warnings"] if w["code"] == "no_recent_traffic"]
    assert stalled and stalled[0]["count"] >= 3
    assert forecast["days"] == pytest.approx(span)
    assert forecast["units_per_day"] == pytest.approx(truth["users"] / span, rel=0.02)


def test_the_html_explains_each_part_and_the_pdf_carries_the_forecast(paywall):
    bundle = json.loads((paywall / "bundle.json").read_text())
    html = (paywall / "report.html").read_text()
    text = text_of(html)
    first = bundle["forecast"]["horizons"][0]
    sentence = f"{prob(first['prob_decision'])} chance of a clear answer within 7 more days"
    assert sentence in text
    # Traffic has stopped: the forecast says so and is conditional on it resuming.
    since = next(w for w in bundle["warnings"] if w["code"] == "no_recent_traffic")
    since = since["last_exposure"]
    assert f"Traffic has stopped: no new users since {since}" in text
    assert "If it resumes at the rate it had while it ran (about 1,200 users a day)" in text
    assert "At the current traffic" not in text
    # The index card (the history line) mentions the stall too.
    index = text_of((paywall.parents[1] / "index.html").read_text())
    assert f"traffic stopped: no new users since {since}" in index
    assert re.search(r'<section id="forecast"[^>]*>.*?<img', html, flags=re.S)
    assert "Revenue per user has two parts" in text
    assert "Do the levels of country differ?" in text
    assert re.search(r"country = IS \d+ \(few\) too few for its own", text)
    pdf = pdf_text(paywall / "report.pdf")
    assert sentence in pdf
    assert "Revenue per user has two parts" in pdf
    assert "(few)" not in pdf  # the segment table is for the screen; the PDF is a summary
