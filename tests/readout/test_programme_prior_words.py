"""Issue 22: the model section describes the prior actually applied (a mixture of normals),
with its interval and its chance of a lift beyond ±10% computed from that same mixture."""

import re

import numpy as np
import pytest

from analyses.ab_test.programme import applied_prior
from analyses.ab_test.programme_results import ProgrammePrior
from analyses.core import programme as pg
from readout.wording import programme as words

CI = 0.94


def fitted_prior():
    """A learned prior from a simulated fat-tailed programme (t with 3 df, 40 experiments)."""
    rng = np.random.default_rng(5)
    z = 0.01 * rng.standard_t(3, 40)
    s = np.full(40, 0.01)
    return pg.fit(z + s * rng.standard_normal(40), s).prior()


def test_applied_numbers_are_the_mixtures_own():
    prior = fitted_prior()
    got = applied_prior(prior, CI)
    # Independent: draws of the same mixture. 400k draws: P's MC sd < 1.6e-4 at P ~ 0.01.
    rng = np.random.default_rng(0)
    k = rng.choice(prior.weights.size, size=400_000, p=prior.weights / prior.weights.sum())
    lift = np.expm1(prior.means[k] + prior.sds[k] * rng.standard_normal(k.size))
    assert abs(got["prob_beyond"] - np.mean(np.abs(lift) > 0.10)) < 8e-4
    assert abs(np.mean((lift > got["hdi"][0]) & (lift < got["hdi"][1])) - CI) < 0.003
    assert got["normals"] == int(np.sum(prior.weights > 0)) > 1


def test_the_model_sentence_quotes_the_applied_prior_not_a_student_t():
    prior = fitted_prior()
    applied = applied_prior(prior, CI)
    found = ProgrammePrior.model_validate(
        {
            "prior": "learned",
            "reason_code": "enough_experiments",
            "kind": "binary",
            "minimum": 3,
            "experiments": 40,
            "decide_with": "programme",
            "decided_with": "programme",
            "alone_verdict": "ship",
            "family": "student_t",
            "df": 10.0,
            "applied": applied,
        }
    )
    sentence = words.applied_prior_sentence(found.model_dump(mode="json"), "94% HDI")
    assert "Student-t" not in sentence and "degrees of freedom" not in sentence
    assert "a mixture of normals" in sentence
    numbers = [float(n) for n in re.findall(r"[-+]?\d+\.?\d*(?=%)", sentence)]
    low, high = (100 * v for v in applied["hdi"])
    assert any(abs(n - low) < 0.051 for n in numbers) and any(
        abs(n - high) < 0.051 for n in numbers
    )
    p = 100 * applied["prob_beyond"]
    quoted = re.search(r"either way a ([<>]?[\d.]+)% chance", sentence).group(1)
    assert abs(float(quoted.lstrip("<>")) - p) < (0.051 if p < 1 or p > 99 else 0.51) or (
        quoted.startswith("<") and p <= 0.1
    )


def test_a_bundle_read_with_the_programme_quotes_the_prior_it_was_read_with():
    """Through :func:`readout.programme.with_programme`: the bundle's ``applied`` numbers are
    the mixture's that read the comparison, and the model section quotes them."""
    import json
    from pathlib import Path

    from readout import bundle as bundles
    from readout import programme

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "search-ranking.json"
    bundle = json.loads(path.read_text())
    prior = fitted_prior()
    rng = np.random.default_rng(5)
    group = programme.Group("binary:higher")
    group.members = [
        programme.Past(f"e{i}", "", "binary", True, 0.0, 0.01, "ship", True, "history")
        for i in range(40)
    ]
    z = 0.01 * rng.standard_t(3, 40)
    group.fit = pg.fit(z + 0.01 * rng.standard_normal(40), np.full(40, 0.01))
    assert np.allclose(group.fit.prior().weights, prior.weights)
    new = programme.with_programme(
        bundle, programme.Learned({"binary:higher": group}, {}), "programme"
    )
    applied = new["programme_prior"]["applied"]
    want = applied_prior(group.prior(), bundle["ci_prob"])
    assert applied["hdi"] == list(want["hdi"]) and applied["prob_beyond"] == want["prob_beyond"]
    sentence, *conflict = words.model_sentences(bundles.typed(new))
    # Review finding 3: the experiment's own +14% against a prior of a few percent is a
    # prior-data conflict; the tail probability from its own HDI, computed here.
    from scipy.special import ndtri

    own = next(c for c in bundle["metrics"][0]["comparisons"] if c["arm"] == bundle["primary"])
    low_, high_ = np.log1p(own["lift_rel"]["hdi"])
    y, s = (low_ + high_) / 2, (high_ - low_) / (2 * ndtri((1 + bundle["ci_prob"]) / 2))
    tail = new["programme_prior"]["conflict_p"]
    assert tail == pytest.approx(pg.predictive_tail(group.prior(), y, s), rel=1e-9)
    assert tail < 0.05
    assert (
        conflict and "is far outside what the programme's past experiments suggest" in conflict[0]
    )
    assert "Student-t" not in sentence
    low, high = (f"{100 * v:+.1f}%" for v in applied["hdi"])
    assert f"{low} to {high}" in sentence.replace("−", "-"), sentence


def test_a_weak_prior_row_on_the_programme_page_keeps_its_own_lift():
    """Review finding 9: the paywall's row said "Weak prior ..." and no lift while the index
    showed +19%: the row quotes the experiment's own lift, and says why no programme lift."""
    import json
    from pathlib import Path

    from readout import programme

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "paywall.json"
    bundle = json.loads(path.read_text())
    bundle["programme_prior"] = {
        "prior": "weak",
        "reason_code": "too_few_experiments",
        "kind": "revenue",
        "minimum": 10,
        "experiments": 0,
        "decide_with": "programme",
        "decided_with": "alone",
        "alone_verdict": bundle["decision"]["verdict"],
    }
    row = programme._programme_row(bundle)
    own = next(c for c in bundle["metrics"][0]["comparisons"] if c["arm"] == bundle["primary"])
    line = words.lifts_line(row, "94% HDI")
    assert line.startswith(f"On its own {100 * own['lift_rel']['mean']:+.0f}%"), line
    assert "weak prior: no finished experiments of its kind (10 needed)" in line
    # A withheld verdict reads no lift, its own neither.
    assert "%" not in words.lifts_line(row, "94% HDI", withheld=True)


def test_a_readout_reads_each_comparison_with_the_programme_prior_once(monkeypatch):
    """The readout's comparisons are its primary metric's: both carry the same programme
    numbers, each read once (a reading is an HDI over the prior's components)."""
    import json

    from analyses.ab_test import programme as ab_programme
    from readout import programme
    from tests.fixtures.programme_decided import BUNDLES, learned

    bundle = json.loads((BUNDLES / "checkout-redesign.json").read_text())
    read: list[str] = []
    real = ab_programme.read_with

    def counted(prior, comparison, *args):
        read.append(comparison.arm)
        return real(prior, comparison, *args)

    monkeypatch.setattr(ab_programme, "read_with", counted)
    new = programme.with_programme(bundle, learned(), "programme")
    primary = new["metrics"][0]["comparisons"]
    assert sorted(read) == sorted(c["arm"] for c in primary)
    assert new["comparisons"] == primary
    assert all(c["programme"]["hdi"] for c in primary)


@pytest.mark.parametrize("name", ["checkout-redesign", "search-ranking", "signup-page"])
def test_a_withheld_verdict_reads_the_experiments_own_numbers_not_the_programmes(name):
    """The programme's prior was set to decide, but a withheld verdict read no lift: the
    bundle "as its verdict read it" keeps the experiment's own numbers, and the index line
    names no programme's experiments; the model section still says what the prior does to
    the lift, not that it sets the verdict. The same bundle not withheld reads the
    programme's (the case tells them apart)."""
    from readout import bundle as bundles
    from tests.fixtures.programme_decided import decided_by_programme, withheld_by_programme

    def primary(bundle):
        return next(c for c in bundle.metrics[0].comparisons if c.arm == bundle.primary)

    decided = bundles.typed(decided_by_programme(name))
    own = primary(decided)
    assert own.lift_rel.mean != own.programme.mean
    assert primary(words.as_decided(decided)).lift_rel.mean == own.programme.mean
    assert words.history_words(decided).startswith(" given the programme's ")
    withheld = bundles.typed(withheld_by_programme(name))
    assert withheld.decision.verdict == "withheld"
    own = primary(withheld)
    read = primary(words.as_decided(withheld))
    assert (read.lift_rel.mean, read.prob_better) == (own.lift_rel.mean, own.prob_better)
    assert words.history_words(withheld) == ""
    assert words.verdict_line(withheld) == []
    assert not words.verdict_by_programme(withheld)
    line = words.weak_arm_prior(withheld, 0.01)
    assert line is not None and "the programme's" in line
    assert "verdict" not in line.lower(), line
