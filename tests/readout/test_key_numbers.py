"""A readout's key numbers are codes and numbers; the words are made when they are read.

``key_numbers`` returns what the number is (``quantity``) and which one (``arm``, ``vs``,
``feature``, ``components``, ``unit``), never an English label; readouts written before the
codes carry English labels, which are still read as they are.
"""

import copy
import json
from pathlib import Path

import pytest

from analyses.core.results import plain
from readout import bundle as bundles
from readout import registry, wording
from readout.wording import common

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
NAMES = sorted(p.stem for p in BUNDLES.glob("*.json"))

#: The words each fixture's key numbers read as (what the readouts said when they were English).
NAMED = {
    "checkout-redesign": ("relative lift of treatment over control", "chance treatment is better"),
    "creator-pricing": (
        "average effect over the creators",
        "chance the average effect is positive",
    ),
    "income-spend": ("relative lift of high over low", "chance high is better"),
    "three-groups": ("mean of the largest of 3 component(s)", None),
    "topic-share": (
        "change per interquartile step of degree centrality",
        "chance the association is positive",
    ),
}


def load(name: str) -> dict:
    return json.loads((BUNDLES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_key_numbers_are_codes_not_words(name):
    bundle = load(name)
    analysis = registry.get(bundle["analysis"])
    key = plain(analysis.key_numbers(bundles.typed(bundle)))
    assert key == bundle["key_numbers"]  # the fixture is what key_numbers returns today
    assert not {"label", "prob_label", "n_label"} & set(key), key
    assert key["quantity"] in common.KEY_QUANTITIES
    assert " " not in key["unit"] and " " not in key["quantity"]


@pytest.mark.parametrize("name", sorted(NAMED))
def test_the_codes_read_as_the_words_readouts_said(name):
    bundle = load(name)
    typed = bundles.typed(bundle)
    said = common.key_words(typed, typed.key_numbers)
    assert (said.label, said.prob_label) == NAMED[name]


def _as_written_before_the_codes(key: dict, bundle: dict) -> dict:
    """The key numbers as a readout from before the codes wrote them (English labels)."""
    typed = bundles.typed(bundle)
    said = common.key_words(typed, typed.key_numbers)
    old = {k: v for k, v in key.items() if k not in ("quantity", "arm", "vs", "unit")}
    return {"label": said.label, **old, "prob_label": said.prob_label, "n_label": said.n_label}


def test_an_older_readouts_english_key_numbers_still_read():
    bundle = load("checkout-redesign")
    assert "label" in bundle["previous"]["key_numbers"]  # its previous readout: English
    assert "quantity" in bundle["key_numbers"]  # this one: codes
    lines = wording.readout_text(bundle).since_last
    # The two are recognised as the same number, so the change is said: the same to the
    # digits shown, it stayed (it did not "move from +13% to +13%").
    assert any(
        line.startswith("The relative lift of treatment over control stayed at +13%")
        for line in lines
    ), lines
    assert any("the chance treatment is better stayed at >99.9%" in line for line in lines)
    assert not any(" moved from " in line or " from >99.9% to " in line for line in lines)
    moved = copy.deepcopy(bundle)
    moved["previous"]["key_numbers"]["mean"] -= 0.05
    moved["previous"]["key_numbers"]["prob"] = 0.97
    moved_lines = wording.readout_text(moved).since_last
    assert any(
        line.startswith("The relative lift of treatment over control moved from +8%")
        and "to +13%" in line
        and "the chance treatment is better from 97% to >99.9%" in line
        for line in moved_lines
    ), moved_lines

    # A whole readout from before the codes renders as it did.
    older = copy.deepcopy(bundle)
    older["key_numbers"] = _as_written_before_the_codes(bundle["key_numbers"], bundle)
    assert wording.readout_text(older).since_last == lines
    assert wording.history_alt(older, 3) == wording.history_alt(bundle, 3)
    assert "relative lift of treatment over control over 3 readouts" in wording.history_alt(
        bundle, 3
    )


def test_a_key_number_whose_codes_changed_is_not_compared():
    bundle = load("checkout-redesign")
    bundle["previous"]["key_numbers"] = {**bundle["key_numbers"], "arm": "other"}
    lines = wording.readout_text(bundle).since_last
    assert not any(" moved from " in line for line in lines), lines
