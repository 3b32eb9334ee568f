"""Words of an ``ab_test`` readout: A/B and A/B/n tests, randomised or observational."""

from __future__ import annotations

from typing import Any

from readout.wording.common import diagnostic_problems, sampling_line
from readout.wording.numbers import (
    Units,
    between,
    decimals_for,
    estimate,
    hdi_range,
    interval,
    number,
    p_value,
    prob,
    rel_places,
    relative,
    signed,
    small,
    span,
    width,
)
from readout.wording.pieces import Body, Figure, Table, Text

Bundle = dict[str, Any]

VERDICT_LABELS = {
    "ship": "Ship",
    "keep_control": "Keep control",
    "keep_collecting": "Keep collecting data",
    "no_difference": "No meaningful difference",
    "withheld": "Verdict withheld",
    "higher": "Clearly higher",
    "lower": "Clearly lower",
    "unclear": "No clear difference yet",
}
GLOSSARY = {
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
#: An A/B test's data problems stop the readout (exit 2); it emits no warnings.
WARNINGS: dict = {}
#: How the failed health checks are named in the reason.
CHECK_NAMES = {"srm": "the sample-ratio check", "diagnostics": "the sampler diagnostics"}


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
        ratio = [1 + h for h in rel["hdi"]]
        log = comp["lift_log"]
        arms = {a["name"]: a for a in bundle["arms"]}
        a_t, a_c = arms[arm], arms[vs]
        vplaces = units.places(width(a_t))
        diff = comp["lift_abs"]
        return (
            f"Given the data and our assumptions, there is a {ci[:3]} probability that the "
            f"{metric} for {arm} is {between(ratio, number, decimals_for(ratio[1] - ratio[0]))} "
            f"times that for {vs} ({ci}): about "
            f"{units.value(a_t['mean'], vplaces)} against {units.value(a_c['mean'], vplaces)}, "
            f"a difference of {estimate(bundle, diff, units.diff, units.places(width(diff)))}. "
            "On the log scale the difference is "
            f"{estimate(bundle, log, signed(number), decimals_for(width(log)))}."
        )
    places = rel_places(rel)
    absolute = comp["lift_abs"]
    aplaces = units.places(width(absolute))
    return (
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the true "
        f"lift of {arm} over {vs} lies {between(rel['hdi'], relative, places)} ({ci}; best "
        f"estimate {relative(rel['mean'], places)}), that is "
        f"{between(absolute['hdi'], units.diff, aplaces)} in {metric}."
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
    verdict, code = decision["verdict"], decision["reason_code"]
    need = prob(thresholds["min_prob_better"])
    if verdict == "withheld":
        failed = [CHECK_NAMES[c] for c in decision["failed_checks"]]
        return (
            f"{' and '.join(failed).capitalize()} failed, so the comparison below may be "
            "misleading; fix the cause and rerun before deciding."
        )
    if verdict == "higher":
        return (
            f"The {metric} is higher for {arm} than for {vs} with "
            f"{prob(best['prob_better'])} probability, at or above the {need} this report "
            "asks for."
        )
    if verdict == "ship":
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability (at least {need} "
            f"needed), and shipping it risks an expected loss of "
            f"{_share(best['expected_loss_rel'])} of {vs}'s {metric} (limit "
            f"{_share(thresholds['max_expected_loss'], False)})."
        )
    if verdict == "lower":
        return f"Every group's {metric} is lower than {vs}'s with at least {need} probability."
    if verdict == "keep_control":
        return (
            f"Every variant is likely worse than {vs}: even the best, {arm}, beats it with "
            f"only {prob(best['prob_better'])} probability."
        )
    if verdict == "no_difference":
        rope = thresholds["rope"]
        return (
            f"The whole {interval(bundle)} of every lift lies within "
            f"±{relative(rope, 1, False)} (the largest distance from zero is "
            f"{relative(decision['widest'], rel_places(best['lift_rel']), False)}), and changes "
            "smaller than that are not worth acting on."
        )
    if code == "interval_includes_zero":
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability, but the "
            f"{interval(bundle)} of its lift still reaches zero, so the data do not yet rule "
            "out no effect."
        )
    if code == "loss_too_high":
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability, but shipping it "
            f"still risks an expected loss of {_share(best['expected_loss_rel'])} "
            f"of {vs}'s {metric}, above the {_share(thresholds['max_expected_loss'], False)} limit."
        )
    return (
        f"The most promising {'group' if bundle['observational'] else 'variant'}, {arm}, is "
        f"higher than {vs} with {prob(best['prob_better'])} probability, short of the {need} "
        "needed for a clear answer."
    )


def _ab_headline(bundle: Bundle) -> str:
    verdict = bundle["decision"]["verdict"]
    arm, control = bundle["decision"].get("arm"), bundle["control"]
    metric = _ab_metric(bundle)
    metric = metric[0].upper() + metric[1:]
    if verdict == "higher":
        return f"{metric} is higher for {arm}."
    if verdict == "lower":
        return f"{metric} is highest for {control}."
    if verdict == "ship":
        return f"Ship {arm}."
    if verdict == "keep_control":
        return f"Keep the control, {control}."
    return VERDICT_LABELS[verdict] + "."


def _test_ci(test: dict, units: Units, log_note: str) -> str:
    """The traditional test's 95% confidence interval, on its own scale."""
    lo, hi = test["ci"]
    if test.get("scale") == "log":
        return span(test["ci"], signed(number), decimals_for(hi - lo)) + log_note
    return span(test["ci"], units.diff, units.places(hi - lo))


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


def _ab_tables(bundle: Bundle, units: Units) -> dict[str, Table]:
    ci = interval(bundle)
    many = any("prob_best" in a for a in bundle["arms"])
    head = ["Arm", "Users", "Observed", "Model estimate", ci]
    if many:
        head.append("Chance of being best")
    rows = []
    for arm in bundle["arms"]:
        places = units.places(width(arm))
        row = [
            arm["name"] + (" (control)" if arm["name"] == bundle["control"] else ""),
            f"{arm['n']:,}",
            units.value(arm["observed"], places),
            units.value(arm["mean"], places),
            span(arm["hdi"], units.value, places),
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
        test = comp["frequentist"]
        test_ci = _test_ci(test, units, " (log)")
        lift = comp["lift_rel"]
        row = [
            f"{comp['arm']} vs {comp['vs']}",
            prob(comp["prob_better"]),
            f"{relative(lift['mean'], places)} ({span(lift['hdi'], relative, places)})",
            units.diff(ab["mean"], units.places(width(ab))),
            _loss_text(comp, units, short=True),
            f"{p_value(test['p_value'])} ({test_ci})",
        ]
        if rope is not None:
            row.insert(4, prob(comp["prob_meaningful"]))
        comp_rows.append([cell.replace(" percentage points", " pp") for cell in row])
    return {
        "arms": Table("Each arm on its own", head, rows),
        "comparisons": Table("Each arm against the control", comp_head, comp_rows),
    }


def _ab_figures(bundle: Bundle) -> dict[str, Figure]:
    ci = interval(bundle)
    metric = _ab_metric(bundle)
    units = _ab_units(bundle)
    parts = []
    for comp in bundle["comparisons"]:
        lift = comp["lift_rel"]
        parts.append(
            f"{comp['arm']} over {comp['vs']}: {prob(comp['prob_better'])} of the curve lies "
            f"above zero, {hdi_range(bundle, lift['hdi'], relative, rel_places(lift))}"
        )
    arm_parts = [
        f"{arm['name']} {estimate(bundle, arm, units.value, units.places(width(arm)))}"
        for arm in bundle["arms"]
    ]
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


def body(bundle: Bundle) -> Body:
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
    health = diagnostic_problems(bundle)
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
    return Body(
        headline=_ab_headline(bundle),
        reason=_ab_reason(bundle, units),
        key_sentences=key,
        health=health,
        notes=notes,
        sections={
            "other_comparisons": others,
            "frequentist": [_ab_frequentist(bundle, units)],
            "model": [_ab_prior(bundle)],
            "checks": [srm_line, sampling_line(bundle)],
        },
        tables=_ab_tables(bundle, units),
        figures=_ab_figures(bundle),
        example="chance that B is better",
    )


def history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    bundle = with_arm_labels(bundle)
    comp = {c["arm"]: c for c in bundle["comparisons"]}[bundle["primary"]]
    lift = comp["lift_rel"]
    return (
        f"{comp['arm']} vs {comp['vs']}: {prob(comp['prob_better'])} chance better; lift "
        f"{estimate(bundle, lift, relative, rel_places(lift))}"
    )


def subject(bundle: Bundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``."""
    if bundle["decision"]["verdict"] == "ship":
        return f"ship {with_arm_labels(bundle)['decision']['arm']}"
    return text.verdict_label[0].lower() + text.verdict_label[1:]
