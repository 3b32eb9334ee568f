"""A quantile metric in plain words: what the percentile is, named wherever the metric is.

The search-ranking fixture with a p90 guardrail summarised from simulated users (each user's
average page load; the treatment 8% slower), worded by the real wording package.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from analyses.ab_test.metrics import Metric
from analyses.ab_test.quantile import histogram, summarise
from analyses.ab_test.results import AbBundle
from readout import wording
from readout.wording.ab_test.quantile import ordinal, with_quantile_names

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
NAME = "90th percentile of each user's average page load time"


def _bundle(q: float = 0.9, unit: str | None = None) -> dict:
    rng = np.random.default_rng(5)
    bins = {
        arm: histogram(rng.lognormal(np.log(1200), 0.4, 6000) * factor)
        for arm, factor in (("control", 1.0), ("treatment", 1.08))
    }
    metric = Metric(
        name="load_time_p90", label="page load time", kind="quantile", role="guardrail",
        higher_is_better=False, tolerated_harm=0.05, suffix=" ms", quantile=q,
    )  # fmt: skip
    summary, _ = summarise(
        metric, bins, q, ["control", "treatment"], 20_000, 0.94, None, np.random.default_rng(1)
    )
    bundle = json.loads((BUNDLES / "search-ranking.json").read_text())
    row = {
        "name": metric.name,
        "label": metric.label,
        "role": "guardrail",
        "kind": "quantile",
        "higher_is_better": False,
        "tolerated_harm": 0.05,
        "value_prefix": "",
        "value_suffix": " ms",
        "method": "Bayesian bootstrap over units (Dirichlet weights on a histogram)",
        "status": "harm",
        "quantile": q,
        **summary.model_dump(mode="json", exclude_unset=True),
    }
    bundle["metrics"].append(row)
    bundle["spec"]["metrics"].append(
        {"name": metric.name, "aggregate": "mean", "kind": "quantile", "quantile": q}
    )
    if unit:
        bundle["unit_label"] = unit
    return bundle


@pytest.fixture(scope="module")
def text():
    return wording.readout_text(_bundle())


def test_the_scorecard_names_the_percentile_of_each_users_value(text):
    card = text.tables["scorecard"]
    row = next(r for r in card.rows if "percentile" in r[0])
    assert row[0] == NAME[0].upper() + NAME[1:]
    assert row[2].endswith("ms") and row[3].endswith("ms")
    # Its status is the harm beyond the tolerated 5%.
    assert "harm beyond" in row[-1].lower()


def test_the_guardrail_sentence_names_it_too(text):
    sentences = [s for part in text.sections.values() for s in part] + text.key_sentences
    guardrail = [s for s in sentences if NAME in s]
    assert guardrail, sentences
    assert any("may rise by at most 5.0%" in s for s in guardrail)


def test_a_note_says_what_the_percentile_means_in_plain_words(text):
    note = next(n for n in text.notes if "percentile" in n)
    assert note.startswith(
        f"The {NAME} is the value that 90% of users stay at or below and 10% exceed: here "
    )
    bundle = AbBundle.model_validate(_bundle())
    arms = bundle.metrics[-1].arms
    shown = re.findall(r"([\d,]+)\s?ms for (control|treatment)", note)
    assert [a for _, a in shown] == ["control", "treatment"]
    for (value, _), arm in zip(shown, arms, strict=True):
        # As the scorecard prints them (the posterior mean), to what the interval supports.
        assert float(value.replace(",", "")) == pytest.approx(arm.mean, abs=0.5)
    row = next(r for r in text.tables["scorecard"].rows if "percentile" in r[0])
    assert f"{row[2]} for control, {row[3]} for treatment" in note  # the scorecard's numbers
    assert "counts once" in note and "Bayesian bootstrap over users" in note
    assert "0.2%" in note


def test_other_levels_and_units_are_named_by_their_own_words():
    text = wording.readout_text(_bundle(0.5, "session"))
    note = next(n for n in text.notes if "percentile" in n)
    assert note.startswith(
        "The 50th percentile of each session's average page load time is the value that 50% "
        "of sessions stay at or below and 50% exceed"
    )


@pytest.mark.parametrize(
    ("q", "word"),
    [(0.9, "90th"), (0.5, "50th"), (0.99, "99th"), (0.995, "99.5th"), (0.01, "1st"),
     (0.02, "2nd"), (0.03, "3rd"), (0.11, "11th"), (0.12, "12th"), (0.21, "21st")],
)  # fmt: skip
def test_ordinals(q, word):
    assert ordinal(q) == word


def test_naming_twice_names_once():
    bundle = AbBundle.model_validate(_bundle())
    twice = with_quantile_names(with_quantile_names(bundle))
    assert twice.metrics[-1].label == NAME
