"""The words of a readout: pinned for fixed bundles, and rules that hold for every bundle."""

import copy
import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from readout import wording
from readout.wording import numbers

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
NAMES = sorted(p.stem for p in BUNDLES.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((BUNDLES / f"{name}.json").read_text())


def all_sentences(text: wording.Text) -> list[str]:
    out = [text.headline, text.reason, *text.key_sentences, *text.health, *text.notes]
    for lines in text.sections.values():
        out.extend(lines)
    for fig in text.figures.values():
        out.extend([fig.caption, fig.alt])
    return out


@pytest.mark.parametrize("name", NAMES)
def test_wording_of_fixed_bundles_is_pinned(name, snapshot):
    text = wording.readout_text(load(name))
    data = asdict(text)
    data.pop("provenance")  # versions and run times; checked separately
    assert data == snapshot


@pytest.mark.parametrize("name", NAMES)
def test_every_interval_is_quoted_with_its_kind_and_probability(name):
    for sentence in all_sentences(wording.readout_text(load(name))):
        for match in re.finditer(r"HDI", sentence):
            before = sentence[max(0, match.start() - 4) : match.start()]
            assert before == "94% ", f"HDI without its probability in: {sentence}"
        if "credible interval" in sentence or "confidence interval" in sentence:
            assert re.search(r"\d+% (confidence interval|HDI)", sentence)


@pytest.mark.parametrize("name", NAMES)
def test_no_sentence_claims_certainty(name):
    for sentence in all_sentences(wording.readout_text(load(name))):
        assert not re.search(r"(?<![>\d.])100(\.0)?% (chance|probability)", sentence), sentence
        assert not re.search(r"(?<![<\d.])0(\.0)?% (chance|probability)", sentence), sentence


def test_interval_probability_follows_the_bundle():
    bundle = load("signup-page")
    bundle["ci_prob"] = 0.9
    text = wording.readout_text(bundle)
    assert "90% HDI" in text.key_sentences[1]
    assert "94%" not in text.key_sentences[1]


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (1.0, ">99.9%"),
        (0.9996, ">99.9%"),
        (0.0, "<0.1%"),
        (0.0004, "<0.1%"),
        (0.997, "99.7%"),
        (0.97, "97%"),
        (0.5, "50%"),
        (0.004, "0.4%"),
    ],
)
def test_probabilities_never_print_as_certain(p, shown):
    assert wording.prob(p) == shown


@pytest.mark.parametrize(
    ("width", "places"), [(2.2, 1), (0.22, 2), (22.0, 0), (22_000.0, -3), (0.0004, 5)]
)
def test_rounding_follows_the_interval_width(width, places):
    assert numbers.decimals_for(width) == places


def test_numbers_format_with_sign_units_and_thousands():
    money = numbers.Units(prefix="$")
    assert money.value(120_571.3, -3) == "$121,000"
    assert money.diff(-29_456.0, -2) == "-$29,500"
    rate = numbers.Units(percent=True)
    assert rate.value(0.1123, 1) == "11.2%"
    assert rate.diff(0.012, 1) == "+1.2 percentage points"
    assert numbers.relative(0.1234, 1) == "+12.3%"
    assert numbers.p_value(0.0004) == "p < 0.001"
    assert numbers.p_value(0.243) == "p = 0.24"


def test_verdict_sentences_change_with_the_numbers():
    bundle = load("signup-page")
    assert wording.readout_text(bundle).headline == "Ship B."
    flipped = copy.deepcopy(bundle)
    flipped["decision"] |= {"verdict": "keep_collecting", "reason_code": "not_enough_evidence"}
    comp = next(c for c in flipped["metrics"][0]["comparisons"] if c["arm"] == "B")
    comp["prob_better"] = 0.8
    text = wording.readout_text(flipped)
    assert text.headline == "Keep collecting data."
    assert "80% probability" in text.reason and "short of the 97%" in text.reason


def test_sample_ratio_mismatch_is_explained_with_the_counts():
    text = wording.readout_text(load("pricing-banner"))
    assert text.headline == "Verdict withheld."
    assert "10,000" in text.health[0] and "9,400" in text.health[0]
    assert "p < 0.001" in text.health[0]


def test_log_scale_readout_speaks_money_and_log_scale():
    text = wording.readout_text(load("income-spend"))
    lift = text.key_sentences[1]
    assert "times that for low" in lift and "$" in lift and "On the log scale" in lift
    assert any("not assigned at random" in n for n in text.notes)


def test_arm_labels_replace_raw_values_in_the_words():
    bundle = copy.deepcopy(load("income-spend"))
    bundle["spec"]["arm_labels"] = {"high": "high-income customers", "low": "low-income customers"}
    text = wording.readout_text(bundle)
    assert "for high-income customers than for low-income customers" in text.key_sentences[0]
    assert " high " not in " ".join(text.key_sentences)


def test_since_last_names_a_new_analysis_version_instead_of_monte_carlo_noise():
    bundle = load("checkout-redesign")
    same = {
        **bundle["previous"],
        "data_sha256": bundle["data_sha256"],
        "config_sha256": bundle["config_sha256"],
    }
    text = wording.readout_text({**bundle, "previous": same})
    assert any("Monte Carlo noise only" in s for s in text.since_last)
    older = {**same, "analysis_version": "1"}
    text = wording.readout_text({**bundle, "previous": older})
    lines = text.since_last
    assert "fitted by a newer version of the analysis" in lines[0]
    assert not any("Monte Carlo noise only" in s for s in lines)


def test_the_student_t_model_says_how_its_posterior_was_computed():
    from readout.bundle import typed
    from readout.wording.ab_test.model import prior_sentences

    bundle = copy.deepcopy(load("income-spend"))
    bundle["prior"] = {
        "kind": "studentt",
        "mu_mean": 11.5,
        "mu_sd": 1.2,
        "sigma_sd": 1.2,
        "nu_rate": 0.1,
    }
    bundle["diagnostics"] |= {"pareto_k": 0.061, "pareto_k_limit": 0.7}
    weighted = " ".join(prior_sentences(typed(bundle)))
    assert "importance sampling" in weighted and "Pareto k 0.06; reliable up to 0.7" in weighted
    assert "NUTS" not in weighted
    del bundle["diagnostics"]["pareto_k"]
    sampled = " ".join(prior_sentences(typed(bundle)))
    assert "sampled with NUTS (PyMC)" in sampled and "importance" not in sampled


def test_the_glossary_explains_the_check_that_was_made():
    from readout.bundle import typed
    from readout.wording.common import glossary

    bundle = copy.deepcopy(load("three-groups"))  # sampled by NUTS
    terms = dict(glossary(typed(bundle), {}))
    assert "R-hat / ESS" in terms and "Pareto k / ESS" not in terms
    assert "Exact posterior" not in terms
    bundle["diagnostics"] |= {"pareto_k": 0.1, "pareto_k_limit": 0.7}
    terms = dict(glossary(typed(bundle), {}))
    assert "Pareto k at most 0.7" in terms["Pareto k / ESS"] and "R-hat / ESS" not in terms


@pytest.mark.parametrize("name", ["income-spend", "eight-schools", "signup-page"])
def test_an_exact_posterior_glossary_names_no_sampler_check(name):
    # An exact posterior (A/B independent draws, the hierarchical grid) has no chains: the
    # glossary says "Exact posterior", as the diagnostics line does, not R-hat / ESS.
    bundle = load(name)
    assert bundle["diagnostics"]["exact"]
    text = wording.readout_text(bundle)
    terms = dict(text.glossary)
    assert "Exact posterior" in terms and "do not apply" in terms["Exact posterior"]
    assert not {"R-hat / ESS", "Pareto k / ESS"} & set(terms)


def test_a_mixture_by_importance_sampling_does_not_speak_of_chains():
    bundle = copy.deepcopy(load("three-groups"))
    model = " ".join(wording.readout_text(bundle).sections["model"])
    assert "the chains' component means agree" in model
    bundle["diagnostics"] |= {
        "pareto_k": 0.07,
        "pareto_k_limit": 0.7,
        "method": "Pareto-smoothed importance sampling from a Laplace approximation "
        "(Pareto k 0.07; independent draws), memberships marginalised, ordered means",
    }
    model = " ".join(wording.readout_text(bundle).sections["model"])
    assert "chain" not in model and "mean the same in every draw" in model
    assert "importance sampling from a Laplace approximation (Pareto k 0.07" in model


@pytest.mark.parametrize(
    ("word", "expected"),
    [("effect", "an"), ("user", "a"), ("unit", "a"), ("on-topic share", "an"), ("", "a")],
)
def test_the_article_follows_the_next_word(word, expected):
    assert numbers.article(word) == expected


@pytest.mark.parametrize(
    ("x", "suffix", "expected"),
    [
        (-1.0, " points", "-1\xa0point"),
        (1.0, " points", "+1\xa0point"),
        (2.0, " points", "+2\xa0points"),
        (1.0, " ms", "+1\xa0ms"),  # an abbreviation keeps its form
        (-1.2, " points", "-1.2\xa0points"),
    ],
)
def test_a_unit_word_is_singular_for_exactly_one(x, suffix, expected):
    assert numbers.Units(suffix=suffix).diff(x, 0 if x == round(x) else 1) == expected


def test_one_percentage_point_is_singular():
    assert numbers.Units(percent=True).diff(-0.01, 0) == "-1 percentage point"


@pytest.mark.parametrize("name", NAMES)
def test_an_exact_posterior_quotes_no_sampler_checks(name):
    bundle = load(name)
    sentences = all_sentences(wording.readout_text(bundle))
    if bundle["diagnostics"].get("exact"):
        assert not [s for s in sentences if "largest R-hat" in s or "bulk ESS" in s]
        assert any("An exact posterior" in s for s in sentences)
    else:
        assert any("largest R-hat" in s for s in sentences)


def test_finished_experiments_are_counted_in_words():
    from readout.wording.programme import finished_experiments

    assert finished_experiments(0) == "no finished experiments"
    assert finished_experiments(1) == "1 finished experiment"
    assert finished_experiments(4) == "4 finished experiments"


def test_no_recent_traffic_needs_attention_on_the_programme_page():
    from readout.programme import attention
    from readout.wording.programme import attention_line

    bundle = load("signup-page")
    bundle["warnings"] = [{"code": "no_recent_traffic", "last_exposure": "2026-11-11", "count": 19}]
    found = attention(bundle)
    assert found == [{"code": "no_recent_traffic", "since": "2026-11-11"}]
    assert attention_line(found[0]) == "Stalled: no exposures since 11 November 2026"


@pytest.mark.parametrize("name", NAMES)
def test_more_than_n_times_narrower_is_true(name):
    """Review finding 13: "more than N times narrower" rounds down (100.8 is "more than 100",
    not "more than 101"), so that the claim holds for the bundle's own prior influence."""
    bundle = load(name)
    for sentence in all_sentences(wording.readout_text(bundle)):
        found = re.search(r"more than ([\d,]+) times narrower than its prior", sentence)
        if found:
            assert 1 / bundle["prior_influence"] > int(found.group(1).replace(",", "")), sentence


def test_an_unclear_guardrail_gives_its_chance_of_harm_not_possible_harm():
    """Review finding 11: a guardrail not yet clear (support contacts -11%, 76% chance better)
    says so with its chance of harm beyond the tolerance, never "possible harm" alone."""
    seen = 0
    for name in NAMES:
        bundle = load(name)
        if bundle["analysis"] != "ab_test" or bundle["decision"]["verdict"] == "withheld":
            continue
        table = wording.readout_text(bundle).tables.get("scorecard")
        if table is None:
            continue
        for metric, row in zip(bundle["metrics"], table.rows, strict=True):
            if metric["role"] != "guardrail" or metric["status"] != "unclear":
                continue
            comp = next(c for c in metric["comparisons"] if c["arm"] == bundle["primary"])
            rise = "rise beyond +" if not metric["higher_is_better"] else "fall beyond -"
            want = f"Not yet clear: {numbers.prob(comp['prob_harm'])} chance of a {rise}"
            assert row[-1].startswith(want), row
            seen += 1
    assert seen  # the fixtures have one (paywall's support contacts)


def test_a_passed_but_uneven_split_is_not_called_no_sign_of_a_broken_split():
    """Review finding 14: paywall's p = 0.05 passes the check (alpha 0.001) but is uneven."""
    from readout import bundle as bundles
    from readout.wording.ab_test.model import check_lines

    bundle = load("signup-page")
    for p, want in ((0.05, "happens by chance about 5 times in 100"), (0.5, "no sign of")):
        changed = copy.deepcopy(bundle)
        changed["srm"] |= {"p_value": p, "ok": True}
        line = check_lines(bundles.typed(changed))[0]
        assert want in line, line
        assert ("no sign of" in line) == (p >= 0.1), line


def test_an_observational_comparison_s_history_line_says_higher_not_better():
    """Review finding 9: income-spend's index card said "chance better; lift" for groups that
    were observed, not assigned; the page says "higher" and "relative difference"."""
    line = wording.history_row(load("income-spend"))
    assert "chance higher; relative difference +" in line, line
    assert "better" not in line and "lift" not in line, line
    assert "chance better; lift" in wording.history_row(load("signup-page"))


def test_another_arm_s_lift_sentence_names_it_as_not_the_primary():
    """Review finding 9: signup-page's only sentence under the comparisons table was C vs A,
    read as the worked example of the primary arm B."""
    (sentence,) = wording.readout_text(load("signup-page")).sections["other_comparisons"]
    assert sentence.startswith("C, not the primary arm B: given the data"), sentence
