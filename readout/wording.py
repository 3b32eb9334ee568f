"""Turn a result bundle into sentences, table cells and figure text.

This module reads only the bundle (a plain dict loaded from ``bundle.json``) and computes
no statistics. The HTML page, the PDF, the email and the Quarto document all take their
words from :func:`readout_text`, so a number is phrased the same way everywhere and every
interval is quoted with its kind and probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

Bundle = dict[str, Any]


# --------------------------------------------------------------------------- numbers


def prob(p: float) -> str:
    """A probability as a percentage that never claims certainty: never 0% or 100%."""
    if p >= 0.999:
        return ">99.9%"
    if p <= 0.001:
        return "<0.1%"
    if p >= 0.99 or p <= 0.01:
        return f"{100 * p:.1f}%"
    return f"{100 * p:.0f}%"


def p_value(p: float) -> str:
    """A p-value as quoted: ``p < 0.001``, ``p = 0.0042``, ``p = 0.24``."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def small(x: float, places: int, fmt: Callable[[float, int], str], approx: bool = False) -> str:
    """A small non-negative amount, or "less than" the smallest step shown at ``places``.

    With ``approx`` a shown amount reads "about ...", for use inside a sentence.
    """
    if round(x, places) == 0:
        return "less than " + fmt(10.0**-places, places)
    return ("about " if approx else "") + fmt(x, places)


def decimals_for(width: float) -> int:
    """Decimal places that show about a tenth of an interval's width.

    The interval's width is far larger than the Monte Carlo error of its ends, so rounding
    to a tenth of it never hides a real digit and never shows a noisy one. Negative
    results round to tens, hundreds, ...
    """
    if not width or not math.isfinite(width) or width <= 0:
        return 2
    return -(math.floor(math.log10(abs(width))) - 1)


def number(x: float, places: int, signed: bool = False) -> str:
    """Format ``x`` rounded to ``places`` decimals (negative: tens, hundreds) with commas.

    A non-zero number never prints as zero: it gets up to three more decimals, so an
    interval that excludes zero never appears to touch it.
    """
    while x != 0 and round(x, places) == 0 and places < 6:
        places = max(places, 0) + 1
    value = round(x, places)
    text = f"{abs(value):,.{max(places, 0)}f}"
    if value == 0:
        return "0" if places <= 0 else text
    sign = "-" if value < 0 else ("+" if signed else "")
    return sign + text


@dataclass(frozen=True)
class Units:
    """How the values of one metric are written: prefix, suffix and percent scaling."""

    prefix: str = ""
    suffix: str = ""
    percent: bool = False

    def value(self, x: float, places: int, signed: bool = False) -> str:
        """A level of the metric: ``$91,100``, ``10.2%``."""
        if self.percent:
            return number(100 * x, places, signed) + "%"
        text = number(x, places, signed)
        sign = text[0] if text[0] in "+-" else ""
        return f"{sign}{self.prefix}{text.lstrip('+-')}{self.suffix}"

    def diff(self, x: float, places: int, signed: bool = True) -> str:
        """A difference of the metric: ``+1.2 percentage points``, ``+$29,000``."""
        if self.percent:
            return number(100 * x, places, signed) + " percentage points"
        return self.value(x, places, signed)

    def places(self, width: float) -> int:
        """Decimals for values whose interval has this width."""
        return decimals_for(100 * width if self.percent else width)


def relative(x: float, places: int, signed: bool = True) -> str:
    """A relative change as a signed percentage: ``+12.3%``."""
    return number(100 * x, places, signed) + "%"


def rel_places(summary: dict) -> int:
    """Decimals for a relative lift summary (in percent)."""
    low, high = summary["hdi"]
    return decimals_for(100 * (high - low))


def interval(bundle: Bundle) -> str:
    """The interval's name as quoted in every sentence: ``94% HDI``."""
    return f"{round(100 * bundle['ci_prob'])}% {bundle['ci_kind'].upper()}"


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class Figure:
    """Caption and alt text of one figure."""

    caption: str
    alt: str


@dataclass(frozen=True)
class Text:
    """Everything a report says, in the order a reader needs it."""

    headline: str
    reason: str
    verdict: str
    key_sentences: list[str]
    health: list[str]
    notes: list[str]
    sections: dict[str, list[str]]
    tables: dict[str, dict[str, list]]
    figures: dict[str, Figure]
    how_to_read: list[str]
    glossary: list[tuple[str, str]]
    provenance: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    since_last: list[str] = field(default_factory=list)


def _provenance(bundle: Bundle) -> list[tuple[str, str]]:
    versions = ", ".join(f"{k} {v}" for k, v in bundle["versions"].items())
    return [
        ("Data", f"{bundle['data_file']} (SHA-256 {bundle['data_sha256'][:12]}…)"),
        ("Config", f"SHA-256 {bundle['config_sha256'][:12]}…"),
        ("Method", bundle["diagnostics"].get("method", "")),
        ("Seed", str(bundle["seed"])),
        ("Run", f"{bundle['created_at']} in {bundle['run_seconds']:.1f} s"),
        ("Versions", versions),
    ]


def _diagnostic_problems(bundle: Bundle) -> list[str]:
    diag = bundle["diagnostics"]
    problems = []
    if diag["r_hat_max"] > diag["r_hat_limit"]:
        problems.append(
            f"The sampler's chains disagree (largest R-hat {diag['r_hat_max']:.3f}, above "
            f"{diag['r_hat_limit']:g}): the posterior was not explored reliably. Rerun with "
            "more tuning steps or check the model."
        )
    if diag["ess_bulk_min"] < diag["ess_limit"]:
        problems.append(
            f"Too few effective draws (smallest bulk ESS {diag['ess_bulk_min']:.0f}, below "
            f"{diag['ess_limit']:g}): the reported numbers carry too much Monte Carlo noise. "
            "Rerun with more draws."
        )
    if diag["divergences"] > 0:
        problems.append(
            f"The sampler reported {diag['divergences']} divergent transition(s): parts of "
            "the posterior may have been missed, so intervals can be wrong."
        )
    return problems


def _examples(w: dict) -> str:
    examples = w.get("examples") or []
    return f" (e.g. {', '.join(map(str, examples[:3]))})" if examples else ""


WARNING_TEXT: dict[str, Callable[[dict, Bundle], str]] = {
    "units_too_few_users": lambda w, b: (
        f"{w['count']:,} {b.get('unit_label', 'unit')}(s) had fewer than {w['minimum']} users "
        f"in an arm ({w['empty_arm']:,} with none at all) and were left out of the model"
        f"{_examples(w)}; they are listed here, not silently dropped."
    ),
    "units_no_spread": lambda w, b: (
        f"{w['count']:,} {b.get('unit_label', 'unit')}(s) had identical values within an arm; "
        "their standard errors use that arm's overall spread instead."
    ),
    "bad_std_error": lambda w, b: (
        f"{w['count']:,} row(s) had a missing, zero or negative standard error in column "
        f"'{w['column']}' and were left out{_examples(w)}."
    ),
}


def data_warnings(bundle: Bundle) -> list[str]:
    """The bundle's data warnings as sentences, with their counts."""
    return [WARNING_TEXT[w["code"]](w, bundle) for w in bundle.get("warnings", [])]


GLOSSARY_COMMON: dict[str, str] = {
    "HDI": (
        "highest-density interval: the narrowest range that holds the stated share of the "
        "posterior probability."
    ),
    "Prior": "what the model assumes before seeing the data; here weak, so the data dominate.",
}
GLOSSARY_AB: dict[str, str] = {
    "Probability of being better": (
        "the share of posterior draws in which the variant beats the control."
    ),
    "Expected loss": (
        "what shipping the variant costs on average if it is in fact worse, counting zero "
        "where it is better."
    ),
    "ROPE": (
        "region of practical equivalence: lifts smaller than the minimum worthwhile effect "
        "count as no change."
    ),
}


def glossary(bundle: Bundle, specific: dict[str, str]) -> list[tuple[str, str]]:
    """The common terms followed by an analysis's own, in reading order."""
    diag = bundle["diagnostics"]
    checks = (
        "R-hat / ESS",
        "checks that the computer's random draws agree across chains (R-hat at most "
        f"{diag['r_hat_limit']:g}) and are numerous enough (effective sample size at least "
        f"{diag['ess_limit']:g}).",
    )
    terms = list(GLOSSARY_COMMON.items())
    return terms[:1] + list(specific.items()) + terms[1:] + [checks]


def _how_to_read(bundle: Bundle, example: str = "chance that B is better") -> list[str]:
    ci = interval(bundle)
    pct = f"{round(100 * bundle['ci_prob'])}%"
    return [
        "Start with the verdict and the sentences under it: they answer whether to ship.",
        f"Ranges are {ci}s (highest-density intervals): given the data and the model's "
        f"assumptions, the true value lies inside with {pct} probability. They are not "
        "statements about repeated experiments, which is what a confidence interval describes.",
        f"Probabilities such as “{example}” are read directly: 97% means 97 in 100.",
        "Health checks come first: when one fails the verdict is withheld, because the "
        "numbers may be wrong.",
    ]


# --------------------------------------------------------------------------- ab_test


VERDICT_LABELS = {
    "ship": "Ship",
    "keep_control": "Keep control",
    "keep_collecting": "Keep collecting data",
    "no_difference": "No meaningful difference",
    "withheld": "Verdict withheld",
}
VERDICT_LABELS.update({"higher": "Clearly higher", "lower": "Clearly lower"})
#: Verdicts of an observational comparison: no "ship", since nothing was assigned.
OBSERVATIONAL_VERDICTS = {"ship": "higher", "keep_control": "lower"}
OBSERVATIONAL_LABELS = {
    "ship": "Clear difference",
    "keep_control": "Clear difference",
    "keep_collecting": "No clear difference yet",
    "no_difference": "No meaningful difference",
    "withheld": "Verdict withheld",
}


def _ab_units(bundle: Bundle) -> Units:
    spec = bundle["spec"]
    return Units(
        prefix=spec.get("value_prefix", ""),
        suffix=spec.get("value_suffix", ""),
        percent=bundle["metric_type"] == "binary",
    )


def _ab_metric(bundle: Bundle) -> str:
    label = bundle["spec"].get("metric_label") or (
        "conversion rate" if bundle["metric_type"] == "binary" else bundle["spec"]["metric"]
    )
    return f"typical (geometric-mean) {label}" if bundle["log_transform"] else label


def _srm_problem(bundle: Bundle) -> str:
    srm = bundle["srm"]
    arms = [a["name"] for a in bundle["arms"]]
    observed = ", ".join(f"{a} {n:,}" for a, n in zip(arms, srm["observed"], strict=True))
    expected = ", ".join(f"{a} {e:,.0f}" for a, e in zip(arms, srm["expected"], strict=True))
    return (
        f"Sample-ratio mismatch: the arms have {observed} users where the planned split "
        f"expects about {expected} (chi-square {p_value(srm['p_value'])}, flagged below "
        f"{srm['alpha']:g}). Assignment or logging is likely broken, so a difference may "
        "come from who ended up in each arm rather than from the change. Find the cause "
        "before using these results."
    )


def _ab_lift_sentence(bundle: Bundle, comp: dict, units: Units) -> str:
    ci, metric = interval(bundle), _ab_metric(bundle)
    arm, vs = comp["arm"], comp["vs"]
    rel = comp["lift_rel"]
    if bundle["log_transform"]:
        ratio_lo, ratio_hi = (1 + h for h in rel["hdi"])
        places = decimals_for(ratio_hi - ratio_lo)
        log = comp["lift_log"]
        log_places = decimals_for(log["hdi"][1] - log["hdi"][0])
        arms = {a["name"]: a for a in bundle["arms"]}
        a_t, a_c = arms[arm], arms[vs]
        vplaces = units.places(a_t["hdi"][1] - a_t["hdi"][0])
        diff = comp["lift_abs"]
        dplaces = units.places(diff["hdi"][1] - diff["hdi"][0])
        return (
            f"Given the data and our assumptions, there is a {ci[:3]} probability that the "
            f"{metric} for {arm} is between {number(ratio_lo, places)} and "
            f"{number(ratio_hi, places)} times that for {vs} ({ci}): about "
            f"{units.value(a_t['mean'], vplaces)} against {units.value(a_c['mean'], vplaces)}, "
            f"a difference of {units.diff(diff['mean'], dplaces)} ({ci} "
            f"{units.diff(diff['hdi'][0], dplaces)} to {units.diff(diff['hdi'][1], dplaces)}). "
            f"On the log scale the difference is {number(log['mean'], log_places, True)} "
            f"({ci} {number(log['hdi'][0], log_places, True)} to "
            f"{number(log['hdi'][1], log_places, True)})."
        )
    places = rel_places(rel)
    absolute = comp["lift_abs"]
    aplaces = units.places(absolute["hdi"][1] - absolute["hdi"][0])
    return (
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the true "
        f"lift of {arm} over {vs} lies between {relative(rel['hdi'][0], places)} and "
        f"{relative(rel['hdi'][1], places)} ({ci}; best estimate "
        f"{relative(rel['mean'], places)}), that is between "
        f"{units.diff(absolute['hdi'][0], aplaces)} and "
        f"{units.diff(absolute['hdi'][1], aplaces)} in {metric}."
    )


def _loss_text(comp: dict, units: Units, short: bool = False) -> str:
    """Expected loss at the precision of the lift it is set against."""
    hdi = comp["lift_abs"]["hdi"]
    places = units.places(hdi[1] - hdi[0]) + 1
    if units.percent:
        unit = " pp" if short else " percentage points"
        return small(
            100 * comp["expected_loss"], places, lambda x, p: number(x, p) + unit, not short
        )
    return small(comp["expected_loss"], places, units.value, not short)


def _share(x: float, approx: bool = True) -> str:
    """A small share such as an expected loss relative to the control: ``about 0.04%``."""
    return small(100 * x, 2, lambda v, p: number(v, p) + "%", approx)


def _ab_reason(bundle: Bundle, units: Units) -> str:
    decision, comps = bundle["decision"], bundle["comparisons"]
    thresholds = decision["thresholds"]
    by_arm = {c["arm"]: c for c in comps}
    best = by_arm[bundle["primary"]]
    arm, vs = best["arm"], best["vs"]
    metric = _ab_metric(bundle)
    verdict = decision["verdict"]
    need = prob(thresholds["min_prob_better"])
    observational = bundle["observational"]
    if verdict == "withheld":
        failed = []
        if not bundle["srm"]["ok"]:
            failed.append("the sample-ratio check")
        if not bundle["diagnostics"]["ok"]:
            failed.append("the sampler diagnostics")
        return (
            f"{' and '.join(failed).capitalize()} failed, so the comparison below may be "
            "misleading; fix the cause and rerun before deciding."
        )
    if verdict == "ship":
        if observational:
            return (
                f"The {metric} is higher for {arm} than for {vs} with "
                f"{prob(best['prob_better'])} probability, at or above the {need} this report "
                "asks for."
            )
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability (at least {need} "
            f"needed), and shipping it risks an expected loss of "
            f"{_share(best['expected_loss_rel'])} of {vs}'s {metric} (limit "
            f"{_share(thresholds['max_expected_loss'], False)})."
        )
    if verdict == "keep_control":
        if observational:
            return f"Every group's {metric} is lower than {vs}'s with at least {need} probability."
        return (
            f"Every variant is likely worse than {vs}: even the best, {arm}, beats it with "
            f"only {prob(best['prob_better'])} probability."
        )
    if verdict == "no_difference":
        rope = thresholds["rope"]
        widest = max(max(abs(h) for h in c["lift_rel"]["hdi"]) for c in comps)
        return (
            f"The whole {interval(bundle)} of every lift lies within "
            f"±{relative(rope, 1, False)} (the largest distance from zero is "
            f"{relative(widest, rel_places(best['lift_rel']), False)}), and changes smaller "
            "than that are not worth acting on."
        )
    if best["prob_better"] >= thresholds["min_prob_better"] and best["lift_rel"]["hdi"][0] <= 0:
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability, but the "
            f"{interval(bundle)} of its lift still reaches zero, so the data do not yet rule "
            "out no effect."
        )
    if best["prob_better"] >= thresholds["min_prob_better"]:
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability, but shipping it "
            f"still risks an expected loss of {_share(best['expected_loss_rel'])} "
            f"of {vs}'s {metric}, above the {_share(thresholds['max_expected_loss'], False)} limit."
        )
    return (
        f"The most promising {'group' if observational else 'variant'}, {arm}, is higher than "
        f"{vs} with {prob(best['prob_better'])} probability, short of the {need} needed for "
        "a clear answer."
    )


def _ab_headline(bundle: Bundle) -> str:
    verdict = bundle["decision"]["verdict"]
    arm, control = bundle["decision"].get("arm"), bundle["control"]
    if bundle["observational"]:
        metric = _ab_metric(bundle)
        metric = metric[0].upper() + metric[1:]
        if verdict == "ship":
            return f"{metric} is higher for {arm}."
        if verdict == "keep_control":
            return f"{metric} is highest for {control}."
        return OBSERVATIONAL_LABELS[verdict] + "."
    if verdict == "ship":
        return f"Ship {arm}."
    if verdict == "keep_control":
        return f"Keep the control, {control}."
    return VERDICT_LABELS[verdict] + "."


def _test_ci(test: dict, units: Units, log_note: str) -> str:
    """The traditional test's 95% confidence interval, on its own scale."""
    lo, hi = test["ci"]
    if test.get("scale") == "log":
        places = decimals_for(hi - lo)
        return f"{number(lo, places, True)} to {number(hi, places, True)}{log_note}"
    places = units.places(hi - lo)
    return f"{units.diff(lo, places)} to {units.diff(hi, places)}"


def _ab_frequentist(bundle: Bundle, units: Units) -> str:
    test = bundle["frequentist"]
    ci_text = _test_ci(test, units, " on the log scale")
    return (
        f"The traditional {test['test']} of {test['arm']} against {test['vs']} gives "
        f"{p_value(test['p_value'])} and a 95% confidence interval of {ci_text}; "
        "it answers a different question — how surprising these data would be if there were "
        "no difference, and a range built to cover the truth in 95% of repeated experiments "
        f"— while the {interval(bundle)} is the probability, given these data, that the "
        "true difference lies in it."
    )


def _ab_prior(bundle: Bundle) -> str:
    prior = bundle["prior"]
    if prior["kind"] == "beta":
        flat = prior["alpha"] == 1 and prior["beta"] == 1
        return (
            f"Each arm's conversion rate starts from a Beta({prior['alpha']:g}, "
            f"{prior['beta']:g}) prior"
            + (
                ": every rate from 0% to 100% equally plausible before the data."
                if flat
                else ", as set in the config."
            )
            + " With a binary metric the posterior is exact (no sampling approximation "
            "beyond the draws used to summarise it)."
        )
    scale = "log " if bundle["log_transform"] else ""
    likelihood = (
        "a Student-t likelihood, so a few extreme values cannot drag the average"
        if prior["kind"] == "studentt"
        else "a normal likelihood"
    )
    return (
        f"Each arm's average {scale}{bundle['spec']['metric']} starts from a normal prior "
        f"centred on {prior['mu_mean']:.3g} with a spread of {prior['mu_sd']:.3g}, and its "
        f"standard deviation from a half-normal prior with scale {prior['sigma_sd']:.3g} "
        "(by default twice the data's standard deviation): wide enough that the data decide. "
        f"The model uses {likelihood}."
    )


def _ab_tables(bundle: Bundle, units: Units) -> dict[str, dict[str, list]]:
    ci = interval(bundle)
    many = any("prob_best" in a for a in bundle["arms"])
    head = ["Arm", "Users", "Observed", "Model estimate", ci]
    if many:
        head.append("Chance of being best")
    rows = []
    for arm in bundle["arms"]:
        places = units.places(arm["hdi"][1] - arm["hdi"][0])
        row = [
            arm["name"] + (" (control)" if arm["name"] == bundle["control"] else ""),
            f"{arm['n']:,}",
            units.value(arm["observed"], places),
            units.value(arm["mean"], places),
            f"{units.value(arm['hdi'][0], places)} to {units.value(arm['hdi'][1], places)}",
        ]
        if many:
            row.append(prob(arm["prob_best"]))
        rows.append(row)
    comp_head = [
        "Comparison",
        "Chance better",
        f"Relative lift ({ci})",
        "Absolute lift",
        "Expected loss",
        "Traditional: p (95% CI)",
    ]
    rope = bundle["decision"]["thresholds"].get("rope")
    if rope is not None:
        comp_head.insert(4, f"Chance lift > {relative(rope, 1, False)}")
    comp_rows = []
    for comp in bundle["comparisons"]:
        places = rel_places(comp["lift_rel"])
        ab = comp["lift_abs"]
        aplaces = units.places(ab["hdi"][1] - ab["hdi"][0])
        test = comp["frequentist"]
        test_ci = _test_ci(test, units, " (log)")
        row = [
            f"{comp['arm']} vs {comp['vs']}",
            prob(comp["prob_better"]),
            f"{relative(comp['lift_rel']['mean'], places)} "
            f"({relative(comp['lift_rel']['hdi'][0], places)} to "
            f"{relative(comp['lift_rel']['hdi'][1], places)})",
            units.diff(ab["mean"], aplaces),
            _loss_text(comp, units, short=True),
            f"{p_value(test['p_value'])} ({test_ci})",
        ]
        if rope is not None:
            row.insert(4, prob(comp["prob_meaningful"]))
        comp_rows.append([cell.replace(" percentage points", " pp") for cell in row])
    return {
        "arms": {"head": head, "rows": rows},
        "comparisons": {"head": comp_head, "rows": comp_rows},
    }


def _ab_figures(bundle: Bundle) -> dict[str, Figure]:
    ci = interval(bundle)
    metric = _ab_metric(bundle)
    units = _ab_units(bundle)
    parts = []
    for comp in bundle["comparisons"]:
        places = rel_places(comp["lift_rel"])
        lo, hi = comp["lift_rel"]["hdi"]
        parts.append(
            f"{comp['arm']} over {comp['vs']}: {prob(comp['prob_better'])} of the curve lies "
            f"above zero, {ci} {relative(lo, places)} to {relative(hi, places)}"
        )
    arm_parts = []
    for arm in bundle["arms"]:
        places = units.places(arm["hdi"][1] - arm["hdi"][0])
        arm_parts.append(
            f"{arm['name']} {units.value(arm['mean'], places)} ({ci} "
            f"{units.value(arm['hdi'][0], places)} to {units.value(arm['hdi'][1], places)})"
        )
    return {
        "lift": Figure(
            caption=(
                f"Posterior of the relative lift in {metric} over the control. The shaded "
                f"band is the {ci}; the dashed line marks no change."
            ),
            alt=f"Density chart of the relative lift in {metric}. " + "; ".join(parts) + ".",
        ),
        "arms": Figure(
            caption=f"Posterior of each arm's {metric}, with its {ci} shaded.",
            alt=f"Density chart of each arm's {metric}: " + "; ".join(arm_parts) + ".",
        ),
    }


def with_arm_labels(bundle: Bundle) -> Bundle:
    """The bundle with arm names replaced by the config's ``arm_labels`` (for wording only)."""
    labels = bundle["spec"].get("arm_labels") or {}
    if not labels:
        return bundle
    name = lambda arm: labels.get(arm, arm) if arm is not None else None  # noqa: E731
    return {
        **bundle,
        "control": name(bundle["control"]),
        "primary": name(bundle["primary"]),
        "arms": [{**a, "name": name(a["name"])} for a in bundle["arms"]],
        "comparisons": [
            {**c, "arm": name(c["arm"]), "vs": name(c["vs"])} for c in bundle["comparisons"]
        ],
        "decision": {**bundle["decision"], "arm": name(bundle["decision"].get("arm"))},
        "frequentist": {
            **bundle["frequentist"],
            "arm": name(bundle["frequentist"]["arm"]),
            "vs": name(bundle["frequentist"]["vs"]),
        },
    }


def ab_test_text(bundle: Bundle) -> Text:
    """Sentences, tables and figure text of an ``ab_test`` bundle."""
    bundle = with_arm_labels(bundle)
    units = _ab_units(bundle)
    by_arm = {c["arm"]: c for c in bundle["comparisons"]}
    primary = by_arm[bundle["primary"]]
    metric = _ab_metric(bundle)
    arm, vs = primary["arm"], primary["vs"]
    key = [
        f"There is a {prob(primary['prob_better'])} chance that the {metric} is higher for "
        f"{arm} than for {vs}.",
        _ab_lift_sentence(bundle, primary, units),
    ]
    if not bundle["observational"]:
        key.append(
            f"If we ship {arm}, we expect to give up "
            f"{_loss_text(primary, units)} of {_ab_metric(bundle)} per user on average, "
            "allowing for the chance "
            f"that {arm} is in fact worse."
        )
    rope = bundle["decision"]["thresholds"].get("rope")
    if rope is not None:
        key.append(
            f"There is a {prob(primary['prob_meaningful'])} chance that the lift exceeds the "
            f"minimum worthwhile effect of {relative(rope, 1)}, and a "
            f"{prob(primary['prob_in_rope'])} chance that it lies within "
            f"±{relative(rope, 1, False)} (too small to matter)."
        )
    if len(bundle["arms"]) > 2:
        leader = max(bundle["arms"], key=lambda a: a["prob_best"])
        key.append(
            f"Of all {len(bundle['arms'])} arms, {leader['name']} is the most likely to be "
            f"best ({prob(leader['prob_best'])} chance)."
        )
    health = _diagnostic_problems(bundle)
    if not bundle["srm"]["ok"]:
        health.insert(0, _srm_problem(bundle))
    notes = []
    if bundle["observational"]:
        notes.append(
            "These groups were not assigned at random, so the comparison describes how the "
            "groups differ; it does not show that belonging to a group causes the difference."
        )
    others = [_ab_lift_sentence(bundle, c, units) for c in bundle["comparisons"] if c["arm"] != arm]
    if bundle["srm"].get("applicable"):
        srm_line = f"Sample-ratio check: {p_value(bundle['srm']['p_value'])} " + (
            "(no sign of a broken split)." if bundle["srm"]["ok"] else "(failed)."
        )
    else:
        srm_line = "Sample-ratio check: not applicable (groups were observed, not assigned)."
    diag = bundle["diagnostics"]
    diag_line = (
        f"Sampling: {diag['method']}; largest R-hat {diag['r_hat_max']:.3f}, smallest bulk "
        f"ESS {diag['ess_bulk_min']:,.0f}, {diag['divergences']} divergences."
    )
    return Text(
        headline=_ab_headline(bundle),
        reason=_ab_reason(bundle, units),
        verdict=(
            OBSERVATIONAL_VERDICTS.get(bundle["decision"]["verdict"], bundle["decision"]["verdict"])
            if bundle["observational"]
            else bundle["decision"]["verdict"]
        ),
        key_sentences=key,
        health=health,
        notes=notes,
        sections={
            "other_comparisons": others,
            "frequentist": [_ab_frequentist(bundle, units)],
            "model": [_ab_prior(bundle)],
            "checks": [srm_line, diag_line],
        },
        tables=_ab_tables(bundle, units),
        figures=_ab_figures(bundle),
        how_to_read=_how_to_read(bundle),
        glossary=glossary(bundle, GLOSSARY_AB),
        provenance=_provenance(bundle),
        warnings=data_warnings(bundle),
    )


def ab_test_history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    bundle = with_arm_labels(bundle)
    comp = {c["arm"]: c for c in bundle["comparisons"]}[bundle["primary"]]
    places = rel_places(comp["lift_rel"])
    lo, hi = comp["lift_rel"]["hdi"]
    return (
        f"{comp['arm']} vs {comp['vs']}: {prob(comp['prob_better'])} chance better; lift "
        f"{relative(comp['lift_rel']['mean'], places)} ({interval(bundle)} "
        f"{relative(lo, places)} to {relative(hi, places)})"
    )


# --------------------------------------------------------------------------- hierarchical

HIERARCHICAL_VERDICTS = {
    "positive": "Positive on average",
    "negative": "Negative on average",
    "unclear": "No clear average effect",
}
VERDICT_LABELS.update(HIERARCHICAL_VERDICTS)

HIERARCHICAL_GLOSSARY = {
    "Partial pooling": (
        "estimating each unit from its own data and from similar units at once; units with "
        "little data lean on the others."
    ),
    "Shrinkage": (
        "how far a unit's estimate is pulled from its own number toward its group's average "
        "(0% not at all, 100% all the way)."
    ),
    "No pooling / complete pooling": (
        "the two extremes: every unit on its own data only, or every unit equal to its "
        "group's average."
    ),
    "Divergences": (
        "warnings from the sampler that it could not explore part of the posterior; with "
        "pooling models they often mean the spread between units is poorly determined."
    ),
}


def _h_units(bundle: Bundle) -> Units:
    spec = bundle["spec"]
    return Units(prefix=spec.get("value_prefix", ""), suffix=spec.get("value_suffix", ""))


def _h_places(bundle: Bundle) -> int:
    mu = bundle["hyper"]["sigma_unit"]
    return _h_units(bundle).places(max(mu["mean"], mu["hdi"][1] - mu["hdi"][0]))


def hierarchical_verdict(bundle: Bundle) -> str:
    """Positive / negative / unclear from the HDI of the average over the units, or withheld."""
    if not bundle["diagnostics"]["ok"]:
        return "withheld"
    low, high = bundle["average"]["hdi"]
    return "positive" if low > 0 else "negative" if high < 0 else "unclear"


def _pull_reason(unit: dict, bundle: Bundle, units: Units, places: int) -> str:
    label = bundle["unit_label"]
    big = unit["shrinkage"] < 0.25
    if unit["n"] is not None:
        size = f"{unit['n']:,} users"
        return (
            f"because {size} give a precise estimate of its own"
            if big
            else f"because {size} say little on their own"
        )
    se = units.value(unit["raw_se"], places)
    return (
        f"because its own standard error ({se}) is small next to the spread between {label}s"
        if big
        else f"because its own standard error ({se}) is large next to the spread between {label}s"
    )


def _story(unit: dict, bundle: Bundle) -> str:
    ci = interval(bundle)
    units = _h_units(bundle)
    places = _h_places(bundle)
    label = bundle["unit_label"].capitalize()
    source = (
        f"from {unit['n']:,} users"
        if unit["n"] is not None
        else (f"(standard error {units.value(unit['raw_se'], places)})")
    )
    toward = (
        f"toward the {unit['group']} average" if bundle["grouped"] else "toward the overall average"
    )
    return (
        f"{label} {unit['unit']} saw {units.diff(unit['raw_estimate'], places)} {source}; the "
        f"model's estimate is {units.diff(unit['mean'], places)} ({ci} "
        f"{units.diff(unit['hdi'][0], places)} to {units.diff(unit['hdi'][1], places)}), pulled "
        f"{relative(unit['shrinkage'], 0, False)} of the way {toward} "
        f"{_pull_reason(unit, bundle, units, places)}."
    )


def _h_tables(bundle: Bundle) -> dict[str, dict[str, list]]:
    ci = interval(bundle)
    units = _h_units(bundle)
    places = _h_places(bundle)
    label, glabel = bundle["unit_label"].capitalize(), bundle["group_label"].capitalize()
    head = [
        label,
        glabel,
        "Users",
        "Own estimate",
        "Pooled estimate",
        ci,
        "Chance > 0",
        "Pulled toward average",
    ]
    role_names = {
        "positive": "Strongest evidence of a positive effect",
        "negative": "Strongest evidence of a negative effect",
        "mover": "Moved most by pooling",
    }
    tables = {}
    for role, title in role_names.items():
        rows = [
            [
                u["unit"],
                u["group"],
                "—" if u["n"] is None else f"{u['n']:,}",
                units.diff(u["raw_estimate"], places),
                units.diff(u["mean"], places),
                f"{units.diff(u['hdi'][0], places)} to {units.diff(u['hdi'][1], places)}",
                prob(u["prob_positive"]),
                relative(u["shrinkage"], 0, False),
            ]
            for u in bundle["units"]
            if role in u["roles"]
        ]
        tables[role] = {"head": head, "rows": rows, "title": title}
    group_rows = [
        [
            g["group"],
            f"{g['units']:,}",
            units.diff(g["mean"], places),
            f"{units.diff(g['hdi'][0], places)} to {units.diff(g['hdi'][1], places)}",
            units.diff(g["complete_pooling"]["mean"], places),
        ]
        for g in bundle["groups"]
    ]
    tables["groups"] = {
        "head": [glabel, f"{label}s", "Pooled average", ci, "Complete pooling"],
        "rows": group_rows,
        "title": f"{glabel} estimates",
    }
    return tables


def _spread_sentence(bundle: Bundle, units: Units, places: int) -> str:
    """sigma_unit in words, as sure as its interval allows."""
    ci, label = interval(bundle), bundle["unit_label"]
    tau = bundle["hyper"]["sigma_unit"]
    around = f"their {bundle['group_label'] if bundle['grouped'] else 'overall'} average"
    band = f"({ci} {units.value(tau['hdi'][0], places)} to {units.value(tau['hdi'][1], places)})"
    if tau["hdi"][0] >= 0.25 * tau["mean"]:
        return (
            f"{label.capitalize()}s really do differ: by about "
            f"±{units.value(tau['mean'], places)} around {around} {band}."
        )
    return (
        f"{label.capitalize()}s may differ by about ±{units.value(tau['mean'], places)} around "
        f"{around}, but the data cannot rule out that they barely differ at all {band}."
    )


def hierarchical_text(bundle: Bundle) -> Text:
    """Sentences, tables and figure text of a ``hierarchical`` bundle."""
    ci = interval(bundle)
    units = _h_units(bundle)
    places = _h_places(bundle)
    label, glabel = bundle["unit_label"], bundle["group_label"]
    hyper = bundle["hyper"]
    mu = hyper["mu"]
    verdict = hierarchical_verdict(bundle)
    n = bundle["n_units"]
    metric = bundle["spec"].get("metric_label") or "effect"
    headline = {
        "positive": f"The {metric} is positive on average across {n:,} {label}s.",
        "negative": f"The {metric} is negative on average across {n:,} {label}s.",
        "unclear": f"No clear average {metric} across {n:,} {label}s.",
        "withheld": "Verdict withheld: the sampler's checks failed.",
    }[verdict]
    avg = bundle["average"]
    reason = (
        f"The average {metric} over these {n:,} {label}s is {units.diff(avg['mean'], places)} "
        f"({ci} {units.diff(avg['hdi'][0], places)} to {units.diff(avg['hdi'][1], places)})"
        + (
            "; the interval excludes zero."
            if verdict in ("positive", "negative")
            else "; the interval includes zero."
            if verdict == "unclear"
            else ", but these numbers may be unreliable until the sampler's problems are fixed."
        )
    )
    key = [
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the average "
        f"{metric} over these {label}s lies between {units.diff(avg['hdi'][0], places)} and "
        f"{units.diff(avg['hdi'][1], places)} ({ci}); there is a {prob(avg['prob_positive'])} "
        "chance that it is positive.",
        _spread_sentence(bundle, units, places),
    ]
    if bundle["grouped"]:
        ordered = sorted(bundle["groups"], key=lambda g: g["mean"])
        low, high = ordered[0], ordered[-1]
        key.append(
            f"{glabel.capitalize()} averages range from {units.diff(low['mean'], places)} "
            f"({low['group']}) to {units.diff(high['mean'], places)} ({high['group']})."
        )
    counts = bundle["counts"]
    key.append(
        f"{counts['positive']:,} of {n:,} {label}s have at least a "
        f"{prob(counts['threshold'])} chance of a positive {metric}, and "
        f"{counts['negative']:,} at least a {prob(counts['threshold'])} chance of a negative "
        "one."
    )
    by_size = bundle.get("shrinkage_by_size") or []
    if len(by_size) >= 2:
        key.append(
            f"{label.capitalize()}s with little data are pulled toward their "
            f"{glabel if bundle['grouped'] else 'overall'} average and those with much data "
            "barely move; the amount of pulling is learned from the data: "
            + ", ".join(
                f"{b['bucket']} users {relative(b['median_shrinkage'], 0, False)}" for b in by_size
            )
            + " (median pull)."
        )
    stories = [
        _story(u, bundle)
        for role in ("story_small", "story_typical", "story_large")
        for u in bundle["units"]
        if role in u["roles"]
    ]
    base = bundle["baselines"]
    baseline_text = [
        f"No pooling trusts each {label}'s own numbers: its {ci[:3]} intervals average "
        f"{units.value(base['no_pooling']['mean_width'], places)} wide. Complete pooling gives "
        f"every {label} its {glabel if bundle['grouped'] else 'overall'} average: intervals "
        f"average {units.value(base['complete_pooling']['mean_width'], places)} wide but ignore "
        f"real differences between {label}s. Partial pooling sits between: "
        f"{units.value(base['partial_pooling']['mean_width'], places)} on average, each "
        f"{label}'s own data weighted by how much of it there is.",
    ]
    health = _diagnostic_problems(bundle)
    if bundle["diagnostics"]["divergences"]:
        health.append(
            "Divergences are a known hazard of pooling models: when the spread between "
            f"{label}s is small and poorly determined the posterior forms a narrow funnel the "
            "sampler cannot enter. The estimates near that region (strong pooling) are the "
            "least reliable."
        )
    diag = bundle["diagnostics"]
    prior = bundle["prior"]
    model = [
        f"For a new {label} (outside these {n:,}) the expected {metric} is "
        f"{units.diff(mu['mean'], places)} ({ci} {units.diff(mu['hdi'][0], places)} to "
        f"{units.diff(mu['hdi'][1], places)}): wider than the average over these {label}s, "
        "because it also allows for how much the "
        f"{glabel + 's' if bundle['grouped'] else label + 's'} themselves vary.",
        f"Each {label}'s true {metric} is drawn from a normal distribution around its "
        f"{glabel if bundle['grouped'] else 'overall'} average with spread sigma_unit"
        + (
            f"; {glabel} averages are drawn around an overall average with spread sigma_group"
            if bundle["grouped"]
            else ""
        )
        + f"; each {label}'s own estimate is that true value plus noise of its known standard "
        "error.",
        f"Priors: the overall average is normal around {units.diff(prior['mu_mean'], places)} "
        f"with spread {units.value(prior['mu_sd'], places)}; the spreads are half-normal with "
        f"scale {units.value(prior['sigma_scale'], places)} (the spread of the own estimates): "
        "weak, so the data decide.",
        f"Sampling: {diag['method']}; largest R-hat {diag['r_hat_max']:.3f}, smallest bulk ESS "
        f"{diag['ess_bulk_min']:,.0f}, {diag['divergences']} divergences.",
    ]
    files = {t["key"]: t for t in bundle.get("tables", [])}
    if "units" in files:
        model.append(
            f"Every {label}'s numbers ({files['units']['rows']:,} rows) are in "
            f"{files['units']['file']} beside this report."
        )
    shown = bundle["plotted_units"]
    sample_note = f" (a random {shown:,} of {n:,} shown)" if shown < n else ""
    pooled_means = [u["mean"] for u in bundle["units"]]
    strongest = max(bundle["units"], key=lambda u: u["prob_positive"])
    figures = {
        "shrinkage": Figure(
            caption=(
                f"Each {label}'s own estimate (across) against its pooled estimate "
                f"(up){sample_note}; point size shows users, the dashed diagonal is no "
                f"pooling and the coloured lines are the {glabel} averages (complete pooling)."
            ),
            alt=(
                f"Scatter plot of {n:,} {label}s' own against pooled estimates: small {label}s "
                f"lie flat near their {glabel} average, large ones near the diagonal; the "
                f"pooled estimates span {units.diff(min(pooled_means), places)} to "
                f"{units.diff(max(pooled_means), places)} among the "
                f"highlighted {label}s, {strongest['unit']} most surely positive."
            ),
        ),
        "groups": Figure(
            caption=(
                f"Each {glabel}'s average {metric}: dot and bar are the partial-pooling estimate "
                f"and its {ci}; x marks complete pooling."
            ),
            alt=(
                f"Interval chart of {len(bundle['groups'])} {glabel} averages with {ci}s: "
                + "; ".join(
                    f"{g['group']} {units.diff(g['mean'], places)} "
                    f"({units.diff(g['hdi'][0], places)} to {units.diff(g['hdi'][1], places)})"
                    for g in bundle["groups"]
                )
                + "."
            ),
        ),
        "diagnostics": Figure(
            caption=(
                "For analysts: rank plot (left) and posterior (right) of each hyperparameter, "
                "one line per chain; flat rank histograms near the dashed line and overlapping "
                "posteriors mean the chains agree."
            ),
            alt=(
                f"Rank-plot and histogram panels of the hyperparameters; largest R-hat "
                f"{diag['r_hat_max']:.3f}, {diag['divergences']} divergences."
            ),
        ),
    }
    return Text(
        headline=headline,
        reason=reason,
        verdict=verdict,
        key_sentences=key,
        health=health,
        notes=[],
        sections={"stories": stories, "baselines": baseline_text, "model": model},
        tables=_h_tables(bundle),
        figures=figures,
        how_to_read=_how_to_read(bundle, f"chance that a {label}'s {metric} is positive"),
        glossary=glossary(bundle, HIERARCHICAL_GLOSSARY),
        provenance=_provenance(bundle),
        warnings=data_warnings(bundle),
    )


def hierarchical_history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units, places = _h_units(bundle), _h_places(bundle)
    mu = bundle["average"]
    return (
        f"average {units.diff(mu['mean'], places)} ({interval(bundle)} "
        f"{units.diff(mu['hdi'][0], places)} to {units.diff(mu['hdi'][1], places)}) across "
        f"{bundle['n_units']:,} {bundle['unit_label']}s"
    )


# --------------------------------------------------------------------------- mixture

VERDICT_LABELS.update({"fitted": "Fitted", "mixture": "Sub-populations found"})

MIXTURE_GLOSSARY = {
    "Component": "one sub-population: its share of the data (weight), its mean and its spread.",
    "PSIS-LOO / ELPD": (
        "an estimate of how well a model predicts data it has not seen (expected log "
        "predictive density); higher is better, differences of a few points are noise."
    ),
    "Membership probability": ("for one observation, the chance that it came from each component."),
}


def _units_of(bundle: Bundle) -> Units:
    spec = bundle["spec"]
    return Units(prefix=spec.get("value_prefix", ""), suffix=spec.get("value_suffix", ""))


def _component_name(comp: dict, i: int) -> str:
    return comp.get("label") or f"component {i + 1}"


def _mixture_component_sentence(bundle: Bundle, comp: dict, i: int, units: Units) -> str:
    ci = interval(bundle)
    places = units.places(comp["mean"]["hdi"][1] - comp["mean"]["hdi"][0])
    w = comp["weight"]
    wp = rel_places({"hdi": w["hdi"]})
    sd_places = units.places(comp["sd"]["hdi"][1] - comp["sd"]["hdi"][0])
    return (
        f"About {relative(w['mean'], wp, False)} of {bundle['unit_label']}s belong to "
        f"{_component_name(comp, i)} ({ci} {relative(w['hdi'][0], wp, False)} to "
        f"{relative(w['hdi'][1], wp, False)}), with a mean {bundle['value_label']} of "
        f"{units.value(comp['mean']['mean'], places)} ({ci} "
        f"{units.value(comp['mean']['hdi'][0], places)} to "
        f"{units.value(comp['mean']['hdi'][1], places)}) and a spread (standard deviation) of "
        f"{units.value(comp['sd']['mean'], sd_places)}."
    )


def _mixture_selection(bundle: Bundle) -> list[str]:
    rows = bundle["comparison"]
    if not rows:
        return [
            f"Only {bundle['chosen_components']} component(s) were fitted; give a list such as "
            "components = [1, 2, 3, 4] to let the data choose."
        ]
    chosen = bundle["chosen_components"]
    by_k = {r["components"]: r for r in rows}
    best = rows[0]
    out = []
    smaller = [r for r in rows if r["components"] < chosen]
    larger = [r for r in rows if r["components"] > chosen]
    sentence = f"The data support {chosen} component{'s' if chosen > 1 else ''}"
    if smaller:
        nearest = max(smaller, key=lambda r: r["components"])
        gap = by_k[chosen]["elpd"] - nearest["elpd"]
        sentence += (
            f": {chosen} predicts held-out data better than {nearest['components']} by "
            f"{gap:,.0f} points of expected log predictive density (standard error "
            f"{nearest['dse']:,.1f})"
        )
    out.append(sentence + ".")
    if larger:
        nearest = min(larger, key=lambda r: r["components"])
        gap = nearest["elpd"] - by_k[chosen]["elpd"]
        out.append(
            f"Adding more components does not help enough to matter: {nearest['components']} "
            f"components change the score by {gap:+,.1f} (standard error "
            f"{max(nearest['dse'], by_k[chosen]['dse']):,.1f}), so the simpler model is kept."
        )
    elif best["components"] != chosen:
        out.append(
            f"{best['components']} components score slightly higher, but within the noise of "
            "the comparison, so the simpler model is kept."
        )
    notes = sorted({n for r in rows for n in r.get("diagnostics", [])})
    if notes:
        out.append("The comparison's own checks flag: " + "; ".join(notes) + ".")
    return out


def mixture_text(bundle: Bundle) -> Text:
    """Sentences, tables and figure text of a ``mixture`` bundle."""
    ci = interval(bundle)
    units = _units_of(bundle)
    comps = bundle["components"]
    k = bundle["chosen_components"]
    verdict = "mixture" if bundle["diagnostics"]["ok"] else "withheld"
    headline = (
        f"The data hold {k} sub-population{'s' if k > 1 else ''} of {bundle['value_label']}."
        if verdict != "withheld"
        else "Verdict withheld: the sampler's checks failed."
    )
    selection = _mixture_selection(bundle)
    key = [_mixture_component_sentence(bundle, c, i, units) for i, c in enumerate(comps)]
    a = bundle["assignment"]
    key.append(
        f"{a['confident']:,} of {bundle['n']:,} {bundle['unit_label']}s can be assigned to one "
        f"component with at least {relative(a['threshold'], 0, False)} probability; "
        f"{a['ambiguous']:,} lie where components overlap and stay ambiguous."
    )
    health = _diagnostic_problems(bundle)
    warn_text = {
        "nearly_empty_component": lambda w: (
            f"Component(s) {', '.join(map(str, w['components']))} hold less than "
            f"{relative(w['threshold'], 0, False)} of the data: nearly empty, so they may not "
            "be real sub-populations; consider fewer components."
        ),
        "multimodal_posterior": lambda w: (
            "The chains disagree (largest R-hat "
            f"{w['r_hat_max']:.3f}): the posterior has several modes, so components may have "
            "swapped or split between chains. Treat the component summaries with caution."
        ),
    }
    notes = [warn_text[w["code"]](w) for w in bundle.get("warnings", []) if w["code"] in warn_text]
    table_rows = []
    for i, c in enumerate(comps):
        places = units.places(c["mean"]["hdi"][1] - c["mean"]["hdi"][0])
        sd_places = units.places(c["sd"]["hdi"][1] - c["sd"]["hdi"][0])
        wp = rel_places({"hdi": c["weight"]["hdi"]})
        table_rows.append(
            [
                _component_name(c, i),
                f"{relative(c['weight']['mean'], wp, False)} "
                f"({relative(c['weight']['hdi'][0], wp, False)} to "
                f"{relative(c['weight']['hdi'][1], wp, False)})",
                f"{units.value(c['mean']['mean'], places)} "
                f"({units.value(c['mean']['hdi'][0], places)} to "
                f"{units.value(c['mean']['hdi'][1], places)})",
                f"{units.value(c['sd']['mean'], sd_places)} "
                f"({units.value(c['sd']['hdi'][0], sd_places)} to "
                f"{units.value(c['sd']['hdi'][1], sd_places)})",
                f"{a['per_component'][i]:,}",
            ]
        )
    tables = {
        "components": {
            "title": "Components, sorted by mean",
            "head": [
                "Component",
                f"Weight ({ci})",
                f"Mean ({ci})",
                f"Spread, SD ({ci})",
                "Confidently assigned",
            ],
            "rows": table_rows,
        },
        "comparison": {
            "title": "How many components? PSIS-LOO comparison",
            "head": [
                "Components",
                "ELPD",
                "SE",
                "Difference from best",
                "SE of difference",
                "Effective parameters",
            ],
            "rows": [
                [
                    str(r["components"]),
                    f"{r['elpd']:,.1f}",
                    f"{r['se']:,.1f}",
                    f"{r['elpd_diff']:,.1f}",
                    f"{r['dse']:,.1f}",
                    f"{r['p_loo']:,.1f}",
                ]
                for r in bundle["comparison"]
            ],
        },
    }
    diag = bundle["diagnostics"]
    prior = bundle["prior"]
    model = [
        f"Each {bundle['unit_label']} comes from one of {k} normal distributions; which one is "
        "never sampled but averaged over (marginalised), and the component means are kept in "
        "increasing order so that component labels mean the same in every chain.",
        f"Priors: weights equally likely (Dirichlet(1, ..., 1)); each mean normal around "
        f"{units.value(prior['mu_mean'], 2)} with spread {units.value(prior['mu_sd'], 2)}; "
        f"spreads half-normal with scale {units.value(prior['sigma_scale'], 2)} (the data's "
        "standard deviation): weak, so the data decide.",
        f"Sampling: {diag['method']}; largest R-hat {diag['r_hat_max']:.3f}, smallest bulk ESS "
        f"{diag['ess_bulk_min']:,.0f}, {diag['divergences']} divergences"
        + (
            "; the chains' component means agree."
            if not bundle["label_switching"]
            else "; the chains' component means disagree (see the warning above)."
        ),
    ]
    files = {t["key"]: t for t in bundle.get("tables", [])}
    if "membership" in files:
        model.append(
            f"Each {bundle['unit_label']}'s probability of belonging to each component is in "
            f"{files['membership']['file']} beside this report."
        )
    figures = {
        "fit": Figure(
            caption=(
                f"Histogram of {bundle['value_label']} with the fitted mixture (solid) and each "
                "component (dashed), at the posterior means."
            ),
            alt=(
                f"Histogram of {bundle['n']:,} values of {bundle['value_label']} with "
                f"{k} fitted normal components: "
                + "; ".join(
                    f"{_component_name(c, i)} weight {relative(c['weight']['mean'], 0, False)}, "
                    f"mean {units.value(c['mean']['mean'], 1)}"
                    for i, c in enumerate(comps)
                )
                + "."
            ),
        ),
        "means": Figure(
            caption=f"Posterior of each component's mean; the bar under each is its {ci}.",
            alt=(
                f"Histograms of the posterior of {k} component means with {ci}s: "
                + "; ".join(
                    f"{_component_name(c, i)} {units.value(c['mean']['hdi'][0], 2)} to "
                    f"{units.value(c['mean']['hdi'][1], 2)}"
                    for i, c in enumerate(comps)
                )
                + "."
            ),
        ),
    }
    return Text(
        headline=headline,
        reason=" ".join(selection[:1]),
        verdict=verdict,
        key_sentences=key,
        health=health,
        notes=notes,
        sections={"selection": selection, "model": model},
        tables=tables,
        figures=figures,
        how_to_read=_how_to_read(
            bundle, f"chance that an {bundle['unit_label']} belongs to component 1"
        ),
        glossary=glossary(bundle, MIXTURE_GLOSSARY),
        provenance=_provenance(bundle),
        warnings=data_warnings(bundle),
    )


def mixture_history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units = _units_of(bundle)
    return f"{bundle['chosen_components']} components: " + "; ".join(
        f"{relative(c['weight']['mean'], 0, False)} at {units.value(c['mean']['mean'], 2)}"
        for c in bundle["components"]
    )


# --------------------------------------------------------------------------- regression

REGRESSION_GLOSSARY = {
    "Coefficient": "how much the target changes, on average, per extra unit of a feature.",
    "Measurement error": (
        "how uncertain each row's target is on its own (a share out of 10 messages far more "
        "than one out of 1,000); uncertain rows count for less."
    ),
    "Posterior-predictive check": (
        "data simulated from the fitted model, compared with the real data: if they look "
        "alike, the model describes the data's spread and shape."
    ),
    "Prediction interval": (
        "where the expected target of a new row lies, and (wider) where a new measurement "
        "of it would fall."
    ),
}


def _coefficient_sentence(bundle: Bundle, c: dict, units: Units) -> str:
    ci = interval(bundle)
    places = units.places(c["hdi"][1] - c["hdi"][0])
    direction = "raises" if c["mean"] > 0 else "lowers"
    return (
        f"Each extra unit of {c['label']} {direction} the {bundle['target_label']} by about "
        f"{units.value(abs(c['mean']), places)} ({ci} {units.diff(c['hdi'][0], places)} to "
        f"{units.diff(c['hdi'][1], places)}); there is a {prob(c['prob_positive'])} chance that "
        "its effect is positive."
    )


def regression_text(bundle: Bundle) -> Text:
    """Sentences, tables and figure text of a ``regression`` bundle."""
    ci = interval(bundle)
    units = _units_of(bundle)
    coefs = bundle["coefficients"]
    target = bundle["target_label"]
    verdict = "fitted" if bundle["diagnostics"]["ok"] else "withheld"
    sure = bundle["evidence_threshold"]
    clear = [c for c in coefs if c["prob_positive"] >= sure or c["prob_positive"] <= 1 - sure]
    headline = (
        f"{len(clear)} of {len(coefs)} feature{'s' if len(coefs) > 1 else ''} clearly move "
        f"the {target}."
        if verdict == "fitted"
        else "Verdict withheld: the sampler's checks failed."
    )
    strongest = max(coefs, key=lambda c: abs(c["per_sd"]["mean"]))
    sd_places = units.places(strongest["per_sd"]["hdi"][1] - strongest["per_sd"]["hdi"][0])
    reason = (
        f"The strongest is {strongest['label']}: one standard deviation more of it "
        f"({number(strongest['feature_sd'], decimals_for(strongest['feature_sd']))}) "
        f"changes the {target} by {units.diff(strongest['per_sd']['mean'], sd_places)} "
        f"({ci} {units.diff(strongest['per_sd']['hdi'][0], sd_places)} to "
        f"{units.diff(strongest['per_sd']['hdi'][1], sd_places)})."
    )
    key = [_coefficient_sentence(bundle, c, units) for c in coefs]
    source = bundle["error_source"]
    if source == "count":
        key.append(
            f"Each row's {target} is a share out of its own count, so rows with few events are "
            "weighted less: their binomial standard error is taken at the model's share."
        )
    elif source == "target_error":
        key.append(
            f"Each row's {target} comes with its own known measurement error; noisier rows are "
            "weighted less."
        )
    ppc = bundle["ppc"]
    sd_p = units.places(ppc["replicated_sd"]["hdi"][1] - ppc["replicated_sd"]["hdi"][0])
    inside = ppc["replicated_sd"]["hdi"][0] <= ppc["observed_sd"] <= ppc["replicated_sd"]["hdi"][1]
    check = (
        f"Posterior-predictive check: the observed spread of the {target} "
        f"({units.value(ppc['observed_sd'], sd_p)}) is "
        + ("inside" if inside else "outside")
        + f" the {ci} of the spread in data simulated from the model "
        f"({units.value(ppc['replicated_sd']['hdi'][0], sd_p)} to "
        f"{units.value(ppc['replicated_sd']['hdi'][1], sd_p)})"
        + (
            ", so the model reproduces the data's variability."
            if inside
            else "; the model misdescribes the data's variability, so read its intervals with care."
        )
    )
    sigma = bundle["sigma"]
    sig_p = decimals_for(sigma["hdi"][1] - sigma["hdi"][0])
    scatter = (
        f"The known errors explain the scatter around the fit with a scale factor of "
        f"{number(sigma['mean'], sig_p)} ({ci} {number(sigma['hdi'][0], sig_p)} to "
        f"{number(sigma['hdi'][1], sig_p)}); 1 means the stated errors are right, above 1 "
        "that rows vary more than their errors say."
        if source
        else f"The residual standard deviation is {units.value(sigma['mean'], sig_p)} ({ci} "
        f"{units.value(sigma['hdi'][0], sig_p)} to {units.value(sigma['hdi'][1], sig_p)})."
    )
    health = _diagnostic_problems(bundle)
    preds = bundle["predictions"]
    pred_rows = []
    for p in preds:
        places = units.places(p["hdi"][1] - p["hdi"][0])
        row = [
            p["row"],
            units.value(p["mean"], places),
            f"{units.value(p['hdi'][0], places)} to {units.value(p['hdi'][1], places)}",
        ]
        if "observation_hdi" in p:
            lo, hi = p["observation_hdi"]
            row.append(f"{units.value(lo, places)} to {units.value(hi, places)}")
        pred_rows.append(row)
    pred_head = ["Row", f"Expected {target}", ci]
    if preds and "observation_hdi" in preds[0]:
        pred_head.append(f"A new measurement ({ci})")
    coef_rows = []
    for c in coefs:
        places = units.places(c["hdi"][1] - c["hdi"][0])
        coef_rows.append(
            [
                c["label"],
                units.diff(c["mean"], places),
                f"{units.diff(c['hdi'][0], places)} to {units.diff(c['hdi'][1], places)}",
                prob(c["prob_positive"]),
            ]
        )
    intercept = bundle["intercept"]
    i_places = units.places(intercept["hdi"][1] - intercept["hdi"][0])
    coef_rows.append(
        [
            "(intercept: all features at zero)",
            units.value(intercept["mean"], i_places),
            f"{units.value(intercept['hdi'][0], i_places)} to "
            f"{units.value(intercept['hdi'][1], i_places)}",
            "—",
        ]
    )
    tables = {
        "coefficients": {
            "title": "Coefficients, per unit of each feature",
            "head": ["Feature", "Effect per unit", ci, "Chance > 0"],
            "rows": coef_rows,
        },
        "predictions": {
            "title": f"Expected {target} and a new measurement, per row",
            "head": pred_head,
            "rows": pred_rows[:20],
        },
    }
    diag = bundle["diagnostics"]
    files = {t["key"]: t for t in bundle.get("tables", [])}
    model = [
        f"The {target} is modelled as a straight-line function of the features plus noise "
        + ("scaled by each row's measurement error." if source else "of constant size.")
        + " Features are standardised for fitting; coefficients are reported per unit of "
        "each feature.",
        f"Priors: each coefficient (per standard deviation of its feature) normal around 0 "
        f"with spread {units.value(bundle['prior']['beta_sd'], 3)} (the target's standard "
        "deviation): weak, so the data decide.",
        scatter,
        f"Sampling: {diag['method']}; largest R-hat {diag['r_hat_max']:.3f}, smallest bulk ESS "
        f"{diag['ess_bulk_min']:,.0f}, {diag['divergences']} divergences.",
    ]
    if "predictions" in files:
        model.append(
            f"All {files['predictions']['rows']:,} predictions are in "
            f"{files['predictions']['file']} beside this report"
            + (f"; the table shows the first {len(pred_rows[:20])}." if len(preds) > 20 else ".")
        )
    figures = {
        "coefficients": Figure(
            caption=(
                f"Change in {target} per standard deviation of each feature (so features on "
                f"different scales compare): dot is the mean, bar the {ci}."
            ),
            alt=(
                f"Interval chart of {len(coefs)} coefficients with {ci}s: "
                + "; ".join(f"{c['label']} {units.diff(c['per_sd']['mean'], 3)}" for c in coefs)
                + " per standard deviation."
            ),
        ),
        "ppc": Figure(
            caption=(
                f"Posterior-predictive check: the observed distribution of {target} (black) "
                "against data sets simulated from the fitted model (blue)."
            ),
            alt=(
                f"Histogram outlines of the observed {target} and 40 simulated data sets; the "
                "simulated spread "
                + ("covers" if inside else "does not cover")
                + " the observed spread."
            ),
        ),
    }
    return Text(
        headline=headline,
        reason=reason,
        verdict=verdict,
        key_sentences=key,
        health=health,
        notes=[],
        sections={"check": [check], "model": model},
        tables=tables,
        figures=figures,
        how_to_read=_how_to_read(bundle, "chance that its effect is positive"),
        glossary=glossary(bundle, REGRESSION_GLOSSARY),
        provenance=_provenance(bundle),
        warnings=data_warnings(bundle),
    )


def regression_history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units = _units_of(bundle)
    return "; ".join(
        f"{c['label']} {units.diff(c['mean'], units.places(c['hdi'][1] - c['hdi'][0]))}"
        for c in bundle["coefficients"]
    )


TEXT_BUILDERS: dict[str, Callable[[Bundle], Text]] = {
    "ab_test": ab_test_text,
    "hierarchical": hierarchical_text,
    "mixture": mixture_text,
    "regression": regression_text,
}
HISTORY_BUILDERS: dict[str, Callable[[Bundle], str]] = {
    "ab_test": ab_test_history,
    "hierarchical": hierarchical_history,
    "mixture": mixture_history,
    "regression": regression_history,
}


def history_row(bundle: Bundle) -> str:
    """The key numbers of one readout in a line, for the history table."""
    return HISTORY_BUILDERS[bundle["analysis"]](bundle)


def _key_value(key: dict, x: float, places: int, bundle: Bundle) -> str:
    if key["scale"] == "relative":
        return relative(x, places)
    spec = bundle["spec"]
    units = Units(prefix=spec.get("value_prefix", ""), suffix=spec.get("value_suffix", ""))
    return units.diff(x, places)


def key_numbers_text(bundle: Bundle, key: dict) -> str:
    """``label mean (94% HDI low to high)`` of a readout's key numbers."""
    lo, hi = key["hdi"]
    places = decimals_for(100 * (hi - lo) if key["scale"] == "relative" else hi - lo)
    return (
        f"{_key_value(key, key['mean'], places, bundle)} ({interval(bundle)} "
        f"{_key_value(key, lo, places, bundle)} to {_key_value(key, hi, places, bundle)})"
    )


def subject_verdict(bundle: Bundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``, ``keep collecting data``."""
    if bundle["analysis"] == "ab_test" and text.verdict == "ship" and not bundle["observational"]:
        return f"ship {with_arm_labels(bundle)['decision']['arm']}"
    label = VERDICT_LABELS.get(text.verdict, text.verdict)
    return label[0].lower() + label[1:]


def history_alt(bundle: Bundle, readouts: int) -> str:
    """Caption and alt text of the experiment page's history chart."""
    key = bundle.get("key_numbers")
    if not key:
        return ""
    return (
        f"Line chart of the {key['label']} over {readouts} readouts, with its "
        f"{interval(bundle)} shaded; latest {key_numbers_text(bundle, key)}."
    )


def since_last(bundle: Bundle, verdict: str) -> list[str]:
    """What changed since the previous readout, and whether new data or config caused it."""
    previous = bundle.get("previous")
    if not previous:
        return ["This is the experiment's first readout."]
    now, before = bundle["key_numbers"], previous.get("key_numbers")
    data_changed = previous["data_sha256"] != bundle["data_sha256"]
    config_changed = previous["config_sha256"] != bundle["config_sha256"]
    if data_changed and before:
        cause = f"new data ({before['n']:,} {before['n_label']} then, {now['n']:,} now)"
    elif data_changed:
        cause = "new data"
    else:
        cause = "the same data"
    if config_changed:
        cause += " and a changed configuration" if data_changed else " with a changed configuration"
    lines = [f"Since the last readout on {previous['date']} this one uses {cause}."]
    label = VERDICT_LABELS.get
    if previous["verdict"] == verdict:
        lines.append(f"The verdict is unchanged ({label(verdict, verdict).lower()}).")
    else:
        lines.append(
            f"The verdict moved from “{label(previous['verdict'], previous['verdict']).lower()}” "
            f"to “{label(verdict, verdict).lower()}”."
        )
    if before and before["label"] == now["label"]:
        moved = (
            f"The {now['label']} moved from {key_numbers_text(bundle, before)} to "
            f"{key_numbers_text(bundle, now)}"
        )
        if now.get("prob") is not None and before.get("prob") is not None:
            moved += f"; the {now['prob_label']} from {prob(before['prob'])} to {prob(now['prob'])}"
        lines.append(moved + ".")
    if not data_changed and not config_changed:
        lines.append("Nothing in the inputs changed: differences are Monte Carlo noise only.")
    return lines


def readout_text(bundle: Bundle) -> Text:
    """All the words of one readout, chosen by the bundle's analysis."""
    text = TEXT_BUILDERS[bundle["analysis"]](bundle)
    if "key_numbers" in bundle:
        text = replace(text, since_last=since_last(bundle, text.verdict))
    return text


def decision_reason(bundle: Bundle) -> str:
    """The one-sentence reason stored with the verdict in the bundle."""
    return readout_text(bundle).reason
