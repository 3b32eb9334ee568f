"""Words of an ``ab_test`` readout: A/B and A/B/n tests, randomised, A/A or observational.

Every number comes from the bundle; the sentences change with the verdict's code, each
metric's direction (higher or lower is better) and the kind of comparison:

* randomised: "ship", expected loss, the arms and the control;
* A/A: whether the check passed, and what identical arms look like;
* observational: groups and a reference group, "higher" and "lower", never "ship" or a loss.
"""

from __future__ import annotations

from typing import Any

from readout.wording.common import diagnostic_problems, sampling_line
from readout.wording.numbers import (
    Units,
    a_prob,
    between,
    capital,
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
    "aa_passed": "A/A check passed",
    "aa_failed": "A/A check failed",
}
GLOSSARY = {
    "Probability of being better": (
        "the share of posterior draws in which the variant beats the control, in the metric's "
        "good direction (lower is better for a metric such as load time)."
    ),
    "Expected loss": (
        "what shipping the variant costs on average if it is in fact worse, counting zero "
        "where it is better; given as a share of the control's value."
    ),
    "ROPE": (
        "region of practical equivalence: lifts smaller than the minimum worthwhile effect "
        "count as no change."
    ),
    "Guardrail": (
        "a metric the change must not harm beyond a tolerated amount, whatever the primary "
        "metric says."
    ),
    "Sample-ratio mismatch": (
        "arm sizes that differ from the planned split by more than chance allows: a sign that "
        "assignment or logging is broken."
    ),
}
#: An A/B test's data problems stop the readout (exit 2); it emits no warnings.
WARNINGS: dict = {}
#: How the failed health checks are named in the reason.
CHECK_NAMES = {
    "srm": "the sample-ratio check",
    "exposures": "the check for units in several arms",
    "diagnostics": "the sampler diagnostics",
}
STATUS_WORDS = {
    "ok": "no harm beyond its tolerance",
    "harm": "harm beyond its tolerance",
    "unclear": "possible harm beyond its tolerance (not yet clear)",
    "better": "better",
    "worse": "worse",
}


# --------------------------------------------------------------------------- small helpers


def with_arm_labels(bundle: Bundle) -> Bundle:
    """The bundle with arm names replaced by the config's ``arm_labels`` (for wording only)."""
    labels = bundle["spec"].get("arm_labels") or {}
    if not labels:
        return bundle

    def name(arm):
        return labels.get(arm, arm) if arm is not None else None

    def relabel(metric):
        return {
            **metric,
            "arms": [{**a, "name": name(a["name"])} for a in metric["arms"]],
            "comparisons": [
                {**c, "arm": name(c["arm"]), "vs": name(c["vs"])} for c in metric["comparisons"]
            ],
            **(
                {
                    "parts": [
                        {**p, "arm": name(p["arm"]), "vs": name(p["vs"])} for p in metric["parts"]
                    ]
                }
                if metric.get("parts")
                else {}
            ),
        }

    out = {
        **relabel(bundle),
        "control": name(bundle["control"]),
        "primary": name(bundle["primary"]),
        "decision": {**bundle["decision"], "arm": name(bundle["decision"].get("arm"))},
        "frequentist": {
            **bundle["frequentist"],
            "arm": name(bundle["frequentist"]["arm"]),
            "vs": name(bundle["frequentist"]["vs"]),
        },
        "metrics": [relabel(m) for m in bundle["metrics"]],
    }
    if bundle.get("sensitivity"):
        out["sensitivity"] = [{**s, "arm": name(s["arm"])} for s in bundle["sensitivity"]]
    return out


def _units(metric: dict) -> Units:
    return Units(
        prefix=metric.get("value_prefix", "") or "",
        suffix=metric.get("value_suffix", "") or "",
        percent=metric["kind"] == "binary",
    )


def _metric_name(metric: dict) -> str:
    if metric["kind"] == "log":
        return f"typical (geometric-mean) {metric['label']}"
    return metric["label"]


def _deciding(bundle: Bundle) -> str:
    """The label of the guardrail that decided the verdict (the config calls it by its name)."""
    name = bundle["decision"]["deciding_metric"]
    return next((m["label"] for m in bundle["metrics"] if m["name"] == name), name)


def _higher(metric: dict) -> str:
    return "higher" if metric["higher_is_better"] else "lower"


def _comparison(metric: dict, arm: str) -> dict:
    return next(c for c in metric["comparisons"] if c["arm"] == arm)


def _share(x: float, approx: bool = True) -> str:
    """A small share such as an expected loss relative to the control: ``about 0.04%``."""
    return small(100 * x, 2, lambda v, p: number(v, p) + "%", approx)


def _units_word(bundle: Bundle, plural: bool = True) -> str:
    word = bundle.get("unit_label") or "user"
    return word + "s" if plural else word


def _arm_word(bundle: Bundle) -> str:
    return "group" if bundle["observational"] else "arm"


def _control_word(bundle: Bundle) -> str:
    return "the reference group" if bundle["observational"] else "the control"


# --------------------------------------------------------------------------- sentences


def lift_sentence(bundle: Bundle, metric: dict, comp: dict) -> str:
    """The HDI of the lift, in words a reader can act on."""
    ci, name = interval(bundle), _metric_name(metric)
    units = _units(metric)
    arm, vs = comp["arm"], comp["vs"]
    rel = comp["lift_rel"]
    if metric["kind"] == "log":
        ratio = [1 + h for h in rel["hdi"]]
        arms = {a["name"]: a for a in metric["arms"]}
        a_t, a_c = arms[arm], arms[vs]
        vplaces = units.places(width(a_t))
        diff, log = comp["lift_abs"], comp["lift_log"]
        return (
            f"Given the data and our assumptions, there is a {ci[:3]} probability that the "
            f"{name} for {arm} is {between(ratio, number, decimals_for(ratio[1] - ratio[0]))} "
            f"times that for {vs} ({ci}): about "
            f"{units.value(a_t['mean'], vplaces)} against {units.value(a_c['mean'], vplaces)}, "
            f"a difference of {estimate(bundle, diff, units.diff, units.places(width(diff)))}. "
            "On the log scale the difference is "
            f"{estimate(bundle, log, signed(number), decimals_for(width(log)))}."
        )
    places = rel_places(rel)
    absolute = comp["lift_abs"]
    word = "difference" if bundle["observational"] else "lift"
    return (
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the true "
        f"{word} of {arm} over {vs} lies {between(rel['hdi'], relative, places)} ({ci}; best "
        f"estimate {relative(rel['mean'], places)}), that is "
        f"{between(absolute['hdi'], units.diff, units.places(width(absolute)))} in {name}."
    )


def chance_sentence(bundle: Bundle, metric: dict, comp: dict) -> str:
    """The probability of being better, in the metric's own direction."""
    name = _metric_name(metric)
    direction = _higher(metric)
    better = "" if metric["higher_is_better"] else " (better)"
    return (
        f"There is {a_prob(comp['prob_better'])} chance that the {name} is {direction}{better} "
        f"for {comp['arm']} than for {comp['vs']}."
    )


def loss_sentence(bundle: Bundle, metric: dict, comp: dict) -> str:
    """The expected loss of shipping, on the same (relative) scale as its limit."""
    limit = bundle["decision"]["thresholds"]["max_expected_loss"]
    return (
        f"If we ship {comp['arm']}, we expect to give up {_share(comp['expected_loss_rel'])} "
        f"of {comp['vs']}'s {_metric_name(metric)} on average (the limit is "
        f"{_share(limit, False)}), allowing for the chance that {comp['arm']} is in fact worse."
    )


def rope_sentence(bundle: Bundle, comp: dict) -> str:
    """The chance that the lift is worth acting on, and that it is too small to matter."""
    rope = bundle["decision"]["thresholds"]["rope"]
    return (
        f"There is {a_prob(comp['prob_meaningful'])} chance that the lift exceeds the "
        f"minimum worthwhile effect of {relative(rope, 1)}, and "
        f"{a_prob(comp['prob_in_rope'])} chance that it lies within ±{relative(rope, 1, False)} "
        "(too small to matter)."
    )


def _metric_status(bundle: Bundle, metric: dict, comp: dict) -> str:
    lift = comp["lift_rel"]
    status = metric["status"]
    name = capital(_metric_name(metric))
    change = (
        f"{relative(lift['mean'], rel_places(lift))} "
        f"({hdi_range(bundle, lift['hdi'], relative, rel_places(lift))})"
    )
    if metric["role"] == "guardrail":
        tolerance = relative(metric["tolerated_harm"], 1, False)
        harm = "rise" if not metric["higher_is_better"] else "fall"
        return (
            f"Guardrail {metric['label']} (may {harm} by at most {tolerance}): {change}; "
            f"{a_prob(comp['prob_harm'])} chance that it {harm}s by more, so "
            f"{STATUS_WORDS[status]}."
        )
    better = "lower" if not metric["higher_is_better"] else "higher"
    return (
        f"{name} ({metric['role']}): {change}; {a_prob(comp['prob_better'])} chance it is "
        f"{better} for {comp['arm']}."
    )


def _reason(bundle: Bundle) -> str:
    decision = bundle["decision"]
    thresholds = decision["thresholds"]
    primary = bundle["metrics"][0]
    best = _comparison(primary, bundle["primary"])
    arm, vs = best["arm"], best["vs"]
    name = _metric_name(primary)
    verdict, code = decision["verdict"], decision["reason_code"]
    need = prob(thresholds["min_prob_better"])
    direction = _higher(primary)
    if verdict == "withheld":
        failed = [CHECK_NAMES[c] for c in decision["failed_checks"]]
        return (
            f"{capital(' and '.join(failed))} failed, so a comparison of the arms could be "
            "misleading; find and fix the cause, then rerun before deciding."
        )
    if verdict == "aa_passed":
        return (
            f"Both arms get the same experience, and the {interval(bundle)} of every "
            "difference includes zero, as it should: the pipeline shows no sign of a problem."
        )
    if verdict == "aa_failed":
        return (
            f"Both arms get the same experience, yet the {interval(bundle)} of the difference "
            f"for {decision['arm']} excludes zero"
            + (
                f" or reaches beyond ±{relative(thresholds['rope'], 1, False)}"
                if thresholds.get("rope")
                else ""
            )
            + f". Identical arms do this in about {_aa_misses(bundle)} of 100 A/A tests; check "
            "assignment, logging and the metric before trusting other readouts."
        )
    if code == "guardrail_harm":
        return (
            f"{arm} beats {vs} on {name} with {prob(best['prob_better'])} probability, but the "
            f"guardrail {_deciding(bundle)} shows harm beyond its "
            f"{relative(decision['tolerated_harm'], 1, False)} tolerance with "
            f"{prob(decision['prob_harm'])} probability."
        )
    if code == "guardrail_unclear":
        return (
            f"{arm} beats {vs} on {name} with {prob(best['prob_better'])} probability, but the "
            f"guardrail {_deciding(bundle)} might be harmed beyond its "
            f"{relative(decision['tolerated_harm'], 1, False)} tolerance "
            f"({prob(decision['prob_harm'])} chance); more data will tell."
        )
    if verdict == "higher":
        return (
            f"The {name} is {direction} for {arm} than for {vs} with "
            f"{prob(best['prob_better'])} probability, at or above the {need} this report "
            "asks for."
        )
    if verdict == "ship":
        return (
            f"{arm} beats {vs} with {prob(best['prob_better'])} probability (at least {need} "
            f"needed), and shipping it risks an expected loss of "
            f"{_share(best['expected_loss_rel'])} of {vs}'s {name} (limit "
            f"{_share(thresholds['max_expected_loss'], False)})."
        )
    if verdict == "lower":
        return (
            f"Every group's {name} is {'lower' if direction == 'higher' else 'higher'} than "
            f"{vs}'s with at least {need} probability."
        )
    if verdict == "keep_control":
        return (
            f"Every variant is likely worse than {vs}: even the best, {arm}, beats it with "
            f"only {prob(best['prob_better'])} probability."
        )
    if verdict == "no_difference":
        return (
            f"The whole {interval(bundle)} of every lift lies within "
            f"±{relative(thresholds['rope'], 1, False)} (the largest distance from zero is "
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
            f"of {vs}'s {name}, above the {_share(thresholds['max_expected_loss'], False)} limit."
        )
    return (
        f"The most promising {_arm_word(bundle) if bundle['observational'] else 'variant'}, "
        f"{arm}, is {direction} than {vs} with {prob(best['prob_better'])} probability, short "
        f"of the {need} needed for a clear answer."
    )


def _headline(bundle: Bundle) -> str:
    verdict = bundle["decision"]["verdict"]
    arm, control = bundle["decision"].get("arm"), bundle["control"]
    primary = bundle["metrics"][0]
    name = capital(_metric_name(primary))
    if verdict == "higher":
        return f"{name} is {_higher(primary)} for {arm}."
    if verdict == "lower":
        return f"{name} is best for {control}."
    if verdict == "ship":
        return f"Ship {arm}."
    if verdict == "keep_control":
        same = control.strip().lower() in ("control", "the control")
        return "Keep the control." if same else f"Keep the control, {control}."
    if verdict == "aa_passed":
        return "A/A check passed: the arms look alike."
    if verdict == "aa_failed":
        return "A/A check failed: identical arms differ."
    return VERDICT_LABELS[verdict] + "."


def _health_sizes(bundle: Bundle) -> list[str]:
    """The size of each failed health check, in place of any shipping language."""
    out = []
    srm = bundle["srm"]
    units = _units_word(bundle)
    if srm.get("applicable") and not srm["ok"]:
        short = [
            f"{a['name']} has about {m:,} fewer {units} than the planned split implies "
            f"({a['n']:,} observed)"
            for a, m in zip(bundle["metrics"][0]["arms"], srm.get("missing", []), strict=False)
            if m > 0
        ]
        if short:
            out.append("; ".join(short) + ".")
        worst = srm.get("worst_case_lift")
        if worst:
            places = decimals_for(100 * abs(worst[1] - worst[0]))
            out.append(
                f"If the missing {units} had all converted the lift would be "
                f"{relative(worst[1], places)}; if none had, {relative(worst[0], places)}: the "
                "data cannot tell these apart, so no lift can be trusted until the cause is "
                "found."
            )
    exposures = bundle.get("exposures")
    if exposures and not exposures["ok"]:
        out.append(
            f"{exposures['multiple_arms']:,} of {exposures['units']:,} {units} "
            f"({relative(exposures['share'], 1, False)}) were assigned to more than one arm "
            f"(at most {relative(exposures['limit'], 0, False)} is tolerated); they are left "
            "out, but so many point to broken assignment."
        )
    out.append("The estimates below are shown for diagnosis only and should not be used to decide.")
    return out


def _srm_problem(bundle: Bundle) -> str:
    srm = bundle["srm"]
    arms = [a["name"] for a in bundle["metrics"][0]["arms"]]
    observed = ", ".join(f"{a} {n:,}" for a, n in zip(arms, srm["observed"], strict=True))
    expected = ", ".join(f"{a} {e:,.0f}" for a, e in zip(arms, srm["expected"], strict=True))
    return (
        f"Sample-ratio mismatch: the arms have {observed} {_units_word(bundle)} where the "
        f"planned split expects about {expected} (chi-square {p_value(srm['p_value'])}, flagged "
        f"below {srm['alpha']:g}). Assignment or logging is likely broken, so a difference may "
        "come from who ended up in each arm rather than from the change. Find the cause "
        "before using these results."
    )


def _exposure_problem(bundle: Bundle) -> str:
    e = bundle["exposures"]
    return (
        f"{e['multiple_arms']:,} {_units_word(bundle)} ({relative(e['share'], 2, False)}) were "
        f"exposed to more than one arm, above the {relative(e['limit'], 0, False)} tolerated: "
        "assignment is likely broken, and the arms may not be comparable."
    )


def _test_ci(test: dict, units: Units, log_note: str) -> str:
    """The traditional test's 95% confidence interval, on its own scale."""
    lo, hi = test["ci"]
    if test.get("scale") == "log":
        return span(test["ci"], signed(number), decimals_for(hi - lo)) + log_note
    return span(test["ci"], units.diff, units.places(hi - lo))


def _frequentist(bundle: Bundle, units: Units) -> str:
    test = bundle["frequentist"]
    ci_text = _test_ci(test, units, " on the log scale")
    ci = interval(bundle)
    return (
        f"The traditional {test['test']} of {test['arm']} against {test['vs']} gives "
        f"{p_value(test['p_value'])} and a 95% confidence interval of {ci_text}. It answers "
        "a different question: how surprising these data would be if there were no "
        "difference, with an interval built to cover the true difference in 95% of repeated "
        f"experiments. The {ci} is instead the range that holds the true difference with "
        f"{ci[:3]} probability, given these data and the model; with this much data the two "
        "usually agree, and where they do not, the smaller sample or the prior is the reason."
    )


def _prior(bundle: Bundle) -> list[str]:
    prior = bundle["prior"]
    primary = bundle["metrics"][0]
    units = _units(primary)
    influence = bundle.get("prior_influence")
    out = []
    if prior["kind"] == "beta":
        flat = prior["alpha"] == 1 and prior["beta"] == 1
        out.append(
            f"Each arm's {primary['label']} starts from a Beta({prior['alpha']:g}, "
            f"{prior['beta']:g}) prior"
            + (
                ": every rate from 0% to 100% equally plausible before the data."
                if flat
                else ", as set in the config."
            )
            + " With a binary metric the posterior is exact (no sampling approximation "
            "beyond the draws used to summarise it)."
        )
    elif prior["kind"] == "delta":
        out.append(
            f"The {primary['label']} is a ratio of two per-unit sums; its uncertainty comes from "
            "the delta method (a normal approximation that is accurate with many units), with "
            "no prior."
        )
    elif prior["kind"] == "studentt":
        logs = "log of the " if primary["kind"] == "log" else ""
        out.append(
            f"Each arm's average {logs}{primary['label']} starts from a normal prior centred on "
            f"{prior['mu_mean']:.3g} with a spread of {prior['mu_sd']:.3g} and its spread from "
            f"a half-normal prior with scale {prior['sigma_sd']:.3g}, both scaled to these "
            "data; the model uses a Student-t likelihood, so a few extreme values cannot drag "
            "an arm's average. It is sampled with NUTS (PyMC)."
        )
    else:
        scale = "log of the " if prior.get("scale") == "log" else ""
        configured = bundle["spec"].get("priors", {})
        source = (
            "as set in the config"
            if configured.get("mu_mean") is not None or configured.get("mu_sd") is not None
            else "scaled to these data (the pooled mean and twice the pooled standard deviation)"
        )
        places = decimals_for(prior["mu_sd"]) if prior["mu_sd"] else 2
        fmt = number if scale else units.value
        hurdle = primary["kind"] in ("lognormal", "revenue")
        what = (
            f"average log of the amount among {_units_word(bundle)} with a positive "
            f"{primary['label']}"
            if hurdle
            else f"average {scale}{primary['label']}"
        )
        out.append(
            f"Each arm's {what} starts from a normal prior centred "
            f"on {fmt(prior['mu_mean'], places)} with a spread of {fmt(prior['mu_sd'], places)}, "
            f"{source}; its spread from an inverse-gamma prior centred on the data's variance"
            + (
                "; the share with a positive value from a Beta(1, 1) prior (every share equally "
                "plausible)"
                if hurdle
                else ""
            )
            + ". This prior is conjugate, so the posterior is exact."
        )
    if influence is not None:
        if influence < 0.1:
            out.append(
                "The prior is weak here: each arm's posterior is more than "
                f"{number(1 / influence if influence > 0 else 1e6, 0)} times narrower than "
                "its prior, so the data decide."
            )
        else:
            out.append(
                f"The prior carries weight here: an arm's posterior is only "
                f"{number(1 / influence, 1)} times narrower than its prior; see how the verdict "
                "changes under other priors."
            )
    return out


def _sensitivity(bundle: Bundle) -> tuple[list[str], Table | None]:
    rows = bundle.get("sensitivity")
    if not rows:
        return [], None
    verdict = bundle["decision"]["verdict"]
    base = next(iter(rows))
    ci = interval(bundle)
    sceptical = next(r for r in rows if r["prior"] == "sceptical")
    scale = relative(sceptical["scale"], 1, False)
    described = {
        "flat": "a flat prior",
        "sceptical": (
            f"a sceptical prior that expects the {_arm_word(bundle)}s within ±{scale} of each other"
        ),
    }
    if verdict == "withheld":
        sentence = ""
    else:
        changed = [r for r in rows if r["verdict"] != bundle["metrics"][0]["status"]]
        if not changed:
            sentence = (
                "The primary metric's verdict holds under "
                + " and under ".join(described[r["prior"]] for r in rows)
                + "."
            )
        else:
            sentence = " ".join(
                f"Under {described[r['prior']]} the primary metric's verdict would be "
                f"“{VERDICT_LABELS[r['verdict']].lower()}” ({prob(r['prob_better'])} chance "
                f"{r['arm']} is better)."
                for r in changed
            )
    table = Table(
        "Does the verdict depend on the prior?",
        ["Prior", "Primary metric's verdict", f"Chance {base['arm']} is better", f"Lift ({ci})"],
        [
            [
                capital(described[r["prior"]]),
                VERDICT_LABELS[r["verdict"]],
                prob(r["prob_better"]),
                f"{relative(r['lift_rel']['mean'], rel_places(r['lift_rel']))} "
                f"({span(r['lift_rel']['hdi'], relative, rel_places(r['lift_rel']))})",
            ]
            for r in rows
        ],
    )
    return [sentence] if sentence else [], table


# --------------------------------------------------------------------------- tables


def _tables(bundle: Bundle) -> dict[str, Table]:
    ci = interval(bundle)
    primary = bundle["metrics"][0]
    units = _units(primary)
    observational = bundle["observational"]
    withheld = bundle["decision"]["verdict"] == "withheld"
    diagnosis = " (for diagnosis only)" if withheld else ""
    many = any("prob_best" in a for a in bundle["metrics"][0]["arms"])
    arm_head = "Group" if observational else "Arm"
    head = [arm_head, capital(_units_word(bundle)), "Observed", "Model estimate", ci]
    # A failed health check shows the estimates for diagnosis, never a chance of winning.
    many = many and not withheld
    if many:
        head.append("Chance of being best")
    rows = []
    for arm in bundle["metrics"][0]["arms"]:
        places = units.places(width(arm))
        marker = " (reference)" if observational else " (control)"
        is_control = arm["name"] == bundle["control"] and arm["name"] != marker[2:-1]
        rows.append(
            [
                arm["name"] + (marker if is_control else ""),
                f"{arm['n']:,}",
                units.value(arm["observed"], places),
                units.value(arm["mean"], places),
                span(arm["hdi"], units.value, places),
            ]
            + ([prob(arm["prob_best"])] if many else [])
        )
    rope = bundle["decision"]["thresholds"].get("rope")
    word = "difference" if observational else "lift"
    chances = not withheld
    comp_head = ["Comparison"]
    if chances:
        comp_head.append("Chance higher" if observational else "Chance better")
    comp_head += [f"Relative {word} ({ci})", f"Absolute {word}"]
    meaningful = chances and rope is not None and not observational
    if meaningful:
        comp_head.append(f"Chance lift > {relative(rope, 1, False)}")
    loss = chances and not observational and not bundle.get("aa_test")
    if loss:
        comp_head.append("Expected loss (share of control)")
    comp_head.append("Traditional: p (95% CI)")
    comp_rows = []
    for comp in bundle["metrics"][0]["comparisons"]:
        lift = comp["lift_rel"]
        places = rel_places(lift)
        ab = comp["lift_abs"]
        test = comp["frequentist"]
        row = [f"{comp['arm']} vs {comp['vs']}"]
        if chances:
            row.append(prob(comp["prob_better"]))
        row += [
            f"{relative(lift['mean'], places)} ({span(lift['hdi'], relative, places)})",
            units.diff(ab["mean"], units.places(width(ab))),
        ]
        if meaningful:
            row.append(prob(comp["prob_meaningful"]))
        if loss:
            row.append(_share(comp["expected_loss_rel"], approx=False))
        row.append(f"{p_value(test['p_value'])} ({_test_ci(test, units, ' (log)')})")
        comp_rows.append([cell.replace(" percentage points", " pp") for cell in row])
    tables = {
        "arms": Table(f"Each {_arm_word(bundle)} on its own{diagnosis}", head, rows),
        "comparisons": Table(
            f"Each {_arm_word(bundle)} against {_control_word(bundle)}{diagnosis}",
            comp_head,
            comp_rows,
        ),
    }
    if len(bundle["metrics"]) > 1:
        tables["scorecard"] = _scorecard(bundle)
    if bundle.get("segments"):
        tables["segments"] = _segments_table(bundle)
    return tables


def _scorecard(bundle: Bundle) -> Table:
    ci = interval(bundle)
    arm, control = bundle["primary"], bundle["control"]
    chances = bundle["decision"]["verdict"] != "withheld"
    head = ["Metric", "Role", control, arm, f"Lift ({ci})"]
    head += ["Chance better", "Status"] if chances else ["Status"]
    rows = []
    for metric in bundle["metrics"]:
        comp = _comparison(metric, arm)
        units = _units(metric)
        arms = {a["name"]: a for a in metric["arms"]}
        places = units.places(width(arms[arm]))
        lift = comp["lift_rel"]
        role = metric["role"]
        if metric["role"] == "guardrail":
            sign = "+" if not metric["higher_is_better"] else "-"
            role += f" (≤ {sign}{relative(metric['tolerated_harm'], 1, False)})"
        elif not metric["higher_is_better"]:
            role += " (lower is better)"
        status = metric["status"]
        label = (
            VERDICT_LABELS.get(status, status)
            if metric["role"] == "primary"
            else STATUS_WORDS.get(status, status).split(" (")[0]
        )
        rows.append(
            [
                capital(_metric_name(metric)),
                role,
                units.value(arms[control]["mean"], places),
                units.value(arms[arm]["mean"], places),
                f"{relative(lift['mean'], rel_places(lift))} "
                f"({span(lift['hdi'], relative, rel_places(lift))})",
                *([prob(comp["prob_better"])] if chances else []),
                capital(label),
            ]
        )
    return Table(f"Every metric, {arm} against {control}", head, rows)


#: At most this many levels of a segment in the report's table (all are in the CSV beside it).
SEGMENT_ROWS = 40


def _primary_segments(bundle: Bundle) -> list[dict]:
    primary = bundle["metrics"][0]["name"]
    return [s for s in bundle["segments"] if s["metric"] == primary]


def _segments_table(bundle: Bundle) -> Table:
    ci = interval(bundle)
    rows = []
    labels = {m["name"]: m for m in bundle["metrics"]}
    primary = bundle["metrics"][0]["name"]
    chances = bundle["decision"]["verdict"] != "withheld"
    shown = _primary_segments(bundle)
    if len(shown) > SEGMENT_ROWS:
        shown = sorted(sorted(shown, key=lambda s: -s["n"])[:SEGMENT_ROWS], key=_segment_key)
    for seg in shown:
        own, pooled = seg["own"], seg["pooled"]
        places = decimals_for(100 * width(pooled))
        own_places = decimals_for(100 * width(own)) if own else places
        rows.append(
            [
                f"{seg['segment']} = {seg['level']}",
                f"{seg['n']:,}" + (" (few)" if seg.get("few_units") else ""),
                f"{relative(own['mean'], own_places)} ({span(own['hdi'], relative, own_places)})"
                if own
                else "too few for its own",
                f"{relative(pooled['mean'], places)} ({span(pooled['hdi'], relative, places)})",
                relative(seg.get("shrinkage", 0.0), 0, False),
                *([prob(seg["prob_positive"])] if chances else []),
            ]
        )
    return Table(
        f"Segments: each level's own lift of {bundle['primary']} in "
        f"{labels[primary]['label']}, and pooled across levels",
        [
            "Segment",
            capital(_units_word(bundle)),
            f"Own lift ({ci})",
            f"Pooled lift ({ci})",
            "Pulled",
            *(["Chance lift > 0"] if chances else []),
        ],
        rows,
    )


def _segment_key(seg: dict) -> tuple[str, str]:
    return seg["segment"], seg["level"]


def _spread_sentence(bundle: Bundle, spread: dict) -> str:
    """Whether a segment's levels really differ: the spread of their true lifts."""
    sigma, overall = spread["sigma"], spread["overall"]
    places = rel_places(sigma)
    low, high = sigma["hdi"]
    shared = low < 0.1 * high
    return (
        f"Do the levels of {spread['segment']} differ? Their true lifts spread by about "
        f"{number(100 * sigma['mean'], places)} percentage points (a standard deviation; "
        f"{interval(bundle)} {span(sigma['hdi'], lambda x, p: number(100 * x, p), places)}) "
        "around the overall lift of "
        f"{estimate(bundle, overall, relative, rel_places(overall))}. "
        + (
            "That interval reaches zero: the levels may well share one lift, and the "
            "differences between their own lifts are mostly noise."
            if shared
            else "That interval stays clear of zero: the levels really differ."
        )
    )


def _figures(bundle: Bundle) -> dict[str, Figure]:
    ci = interval(bundle)
    primary = bundle["metrics"][0]
    name = _metric_name(primary)
    units = _units(primary)
    word = "difference" if bundle["observational"] else "lift"
    side = "above" if primary["higher_is_better"] else "below"
    parts = [
        f"{comp['arm']} over {comp['vs']}: {prob(comp['prob_better'])} of the curve lies "
        f"{side} zero, "
        + hdi_range(bundle, comp["lift_rel"]["hdi"], relative, rel_places(comp["lift_rel"]))
        for comp in bundle["metrics"][0]["comparisons"]
    ]
    arm_parts = [
        f"{arm['name']} {estimate(bundle, arm, units.value, units.places(width(arm)))}"
        for arm in bundle["metrics"][0]["arms"]
    ]
    out = {
        "lift": Figure(
            caption=(
                f"Posterior of the relative {word} in {name} over "
                f"{_control_word(bundle)}. The shaded band is the {ci}; the dashed line marks "
                "no change."
            ),
            alt=f"Density chart of the relative {word} in {name}. " + "; ".join(parts) + ".",
        ),
        "arms": Figure(
            caption=f"Posterior of each {_arm_word(bundle)}'s {name}, with its {ci} shaded.",
            alt=f"Density chart of each {_arm_word(bundle)}'s {name}: "
            + "; ".join(arm_parts)
            + ".",
        ),
    }
    if bundle.get("forecast") and bundle["decision"]["verdict"] == "keep_collecting":
        result = bundle["forecast"]
        out["forecast"] = Figure(
            caption=(
                f"The chance of a clear answer after {_days(result['horizons'])} more days at "
                "the current traffic, split by the verdict it would be."
            ),
            alt="Bar chart of the chance of a verdict: "
            + "; ".join(
                f"{prob(h['prob_decision'])} within {h['days']} days" for h in result["horizons"]
            )
            + ".",
        )
    if len(bundle["metrics"]) > 1:
        arm = bundle["primary"]
        items = []
        for metric in bundle["metrics"]:
            lift = _comparison(metric, arm)["lift_rel"]
            items.append(
                f"{metric['label']} ({metric['role']}) "
                f"{relative(lift['mean'], rel_places(lift))} "
                f"({span(lift['hdi'], relative, rel_places(lift))})"
            )
        out["scorecard"] = Figure(
            caption=(
                f"Every metric's relative lift of {arm} over {bundle['control']}: dot and bar "
                f"are the estimate and its {ci}; a red tick marks a guardrail's tolerated harm."
            ),
            alt=f"Interval chart of {len(bundle['metrics'])} metrics' lifts: "
            + "; ".join(items)
            + ".",
        )
    return out


# --------------------------------------------------------------------------- the body


def body(bundle: Bundle) -> Body:
    """Sentences, tables and figure text of an ``ab_test`` bundle."""
    bundle = with_arm_labels(bundle)
    primary_metric = bundle["metrics"][0]
    units = _units(primary_metric)
    primary = _comparison(primary_metric, bundle["primary"])
    verdict = bundle["decision"]["verdict"]
    observational = bundle["observational"]
    if verdict == "withheld":
        key = _health_sizes(bundle)
    elif bundle.get("aa_test"):
        key = _aa_sentences(bundle, primary_metric, primary)
    else:
        key = [chance_sentence(bundle, primary_metric, primary)]
        key.append(lift_sentence(bundle, primary_metric, primary))
        if not observational:
            key.append(loss_sentence(bundle, primary_metric, primary))
        if bundle["decision"]["thresholds"].get("rope") is not None and not observational:
            key.append(rope_sentence(bundle, primary))
        if verdict == "keep_collecting" and bundle.get("forecast"):
            key.append(forecast_sentence(bundle))
        if len(bundle["metrics"][0]["arms"]) > 2:
            leader = max(bundle["metrics"][0]["arms"], key=lambda a: a["prob_best"])
            key.append(
                f"Of all {len(bundle['arms'])} {_arm_word(bundle)}s, {leader['name']} is the "
                f"most likely to be best ({prob(leader['prob_best'])} chance)."
            )
        for metric in bundle["metrics"][1:]:
            key.append(_metric_status(bundle, metric, _comparison(metric, bundle["primary"])))
    health = diagnostic_problems(bundle)
    if bundle.get("exposures") and not bundle["exposures"]["ok"]:
        health.insert(0, _exposure_problem(bundle))
    if not bundle["srm"]["ok"]:
        health.insert(0, _srm_problem(bundle))
    notes = _notes(bundle)
    others = [
        lift_sentence(bundle, primary_metric, c)
        for c in bundle["metrics"][0]["comparisons"]
        if c["arm"] != primary["arm"]
    ]
    sensitivity, sensitivity_table = _sensitivity(bundle)
    tables = _tables(bundle)
    if sensitivity_table is not None:
        tables["sensitivity"] = sensitivity_table
    return Body(
        headline=_headline(bundle),
        reason=capital(_reason(bundle)),
        key_sentences=key,
        health=health,
        notes=notes,
        sections={
            "other_comparisons": others,
            "frequentist": [_frequentist(bundle, units)],
            "model": _prior(bundle),
            "sensitivity": sensitivity,
            "checks": _checks(bundle),
            "segments": _segments_intro(bundle),
            "forecast": _forecast_method(bundle) if verdict == "keep_collecting" else [],
        },
        tables=tables,
        figures=_figures(bundle),
        example=(
            "chance that the group's value is higher"
            if observational
            else "chance that B is better"
        ),
    )


def _aa_misses(bundle: Bundle) -> int:
    """In how many of 100 A/A tests identical arms' interval excludes zero: 1 - ci_prob."""
    return round(100 * (1 - bundle["ci_prob"]))


def _aa_sentences(bundle: Bundle, metric: dict, comp: dict) -> list[str]:
    lift = comp["lift_rel"]
    places = rel_places(lift)
    inside = lift["hdi"][0] <= 0 <= lift["hdi"][1]
    misses = _aa_misses(bundle)
    out = [
        f"The relative difference between {comp['arm']} and {comp['vs']} is "
        f"{estimate(bundle, lift, relative, places)}: the interval "
        + (
            f"includes zero, as it does for identical arms in about {100 - misses} of 100 A/A "
            "tests."
            if inside
            else f"excludes zero, which identical arms do in only about {misses} of 100 A/A tests."
        ),
        f"There is {a_prob(comp['prob_better'])} chance that the {_metric_name(metric)} is "
        f"higher for {comp['arm']} than for {comp['vs']}. For identical arms this chance is as "
        "likely to lie anywhere between 0% and 100% as near 50%, so a number like this is no "
        "sign of a difference.",
    ]
    if bundle["decision"]["thresholds"].get("rope") is not None:
        out.append(rope_sentence(bundle, comp))
    return out


def _days(horizons: list[dict]) -> str:
    days = [str(h["days"]) for h in horizons]
    return ", ".join(days[:-1]) + " and " + days[-1] if len(days) > 1 else days[0]


def forecast_sentence(bundle: Bundle) -> str:
    """How long until a decision at the current traffic, and what deciding now would cost."""
    result = bundle["forecast"]
    horizons = result["horizons"]
    chances = [f"{prob(h['prob_decision'])} within {h['days']}" for h in horizons[1:]]
    first = horizons[0]
    arm, control = result["arm"], bundle["control"]
    metric = _metric_name(bundle["metrics"][0])
    rate = result["units_per_day"]
    return (
        f"At the current traffic (about {number(rate, -1 if rate >= 100 else 0)} "
        f"{_units_word(bundle)} a day), there is {a_prob(first['prob_decision'])} chance of a "
        f"clear answer within {first['days']} more days, "
        + (
            ", ".join(chances[:-1]) + " and " + chances[-1]
            if len(chances) > 1
            else "".join(chances)
        )
        + " days. Stopping now and keeping "
        f"{control} would give up about {_loss(result['loss_keep'])} of {control}'s {metric} "
        f"on average, allowing for the chance that {arm} is in fact better."
    )


def _loss(x: float) -> str:
    """An expected loss relative to the control: whole percents from 1%, else finer."""
    return relative(x, 0, False) if x >= 0.01 else _share(x, False)


def _forecast_method(bundle: Bundle) -> list[str]:
    result = bundle.get("forecast")
    if not result:
        return []
    return [
        forecast_sentence(bundle),
        f"How this is worked out: {result['simulations']:,} simulations each draw the true "
        "values from the current posterior, add the data the coming days would bring at the "
        f"traffic seen over the last {number(result['days'], 0)} days, and apply this report's "
        "decision rule to the result. It forecasts the primary metric only: a guardrail can "
        "still hold a ship back.",
    ]


def _notes(bundle: Bundle) -> list[str]:
    notes = []
    if bundle["observational"]:
        notes.append(
            "These groups were not assigned at random, so the comparison describes how the "
            "groups differ; it does not show that belonging to a group causes the difference."
        )
    for metric in bundle["metrics"]:
        if "variance_reduction" in metric:
            unadjusted = _comparison(
                {**metric, "comparisons": metric["unadjusted"]}, bundle["primary"]
            )
            lift = unadjusted["lift_rel"]
            notes.append(
                f"{capital(metric['label'])} is adjusted for the same metric before exposure "
                "(CUPED): the adjustment removes "
                f"{relative(metric['variance_reduction'], 0, False)} of its variance without "
                f"changing what is compared, {_as_if_more(bundle, metric['variance_reduction'])}."
                f" Unadjusted, the lift would be "
                f"{estimate(bundle, lift, relative, rel_places(lift))}."
            )
        if metric.get("parts") and bundle["decision"]["verdict"] != "withheld":
            notes.append(revenue_sentence(bundle, metric, bundle["primary"]))
        if metric["kind"] == "ratio":
            notes.append(
                f"{capital(metric['label'])} is a ratio of two per-unit sums; its intervals use "
                "the delta method, a normal approximation that is accurate with many units."
            )
    return notes


def revenue_sentence(bundle: Bundle, metric: dict, arm: str) -> str:
    """Revenue per unit in its two parts: who paid, and how much those who paid spent."""
    parts = next(p for p in metric["parts"] if p["arm"] == arm)
    vs = parts["vs"]
    threshold = bundle["decision"]["thresholds"]["min_prob_better"]
    units = _units_word(bundle)
    paying, per_payer = parts["paying"], parts["per_payer"]

    def moved(part: dict, more: str, less: str, same: str) -> str:
        if part["prob_higher"] >= threshold:
            return more
        if part["prob_higher"] <= 1 - threshold:
            return less
        return same

    money = _units(metric)
    amount_places = money.places(width(per_payer["treatment"]))
    share_places = decimals_for(100 * width(paying["treatment"]))
    rate = lambda x: number(100 * x, share_places) + "%"  # noqa: E731
    verdict = (
        moved(paying, f"more {units} paid", f"fewer {units} paid", "about as many paid")
        + "; "
        + moved(
            per_payer,
            "those who paid spent more",
            "those who paid spent less",
            "those who paid spent about the same",
        )
    )
    if bundle["observational"]:
        verdict = verdict.replace("more ", "a higher share of ").replace(
            "fewer ", "a lower share of "
        )
    return (
        f"{capital(metric['label'])} has two parts. The share of {units} who paid: "
        f"{rate(paying['treatment']['mean'])} for {arm} against "
        f"{rate(paying['control']['mean'])} for {vs}, a relative difference of "
        f"{estimate(bundle, paying['lift_rel'], relative, rel_places(paying['lift_rel']))}. "
        f"The average amount among those who paid: "
        f"{money.value(per_payer['treatment']['mean'], amount_places)} against "
        f"{money.value(per_payer['control']['mean'], amount_places)}, "
        f"{estimate(bundle, per_payer['lift_rel'], relative, rel_places(per_payer['lift_rel']))}. "
        f"In short: {verdict}."
    )


def _as_if_more(bundle: Bundle, reduction: float) -> str:
    """What a variance reduction is worth in units: the interval of a larger experiment."""
    if reduction < 0.005:
        return "so the interval is about as wide as without it"
    gain = reduction / (1 - reduction) if reduction < 1 else float("inf")
    units = _units_word(bundle)
    more = (
        f"{relative(gain, 0, False)} more {units}"
        if gain < 1
        else f"{number(1 + gain, 1 if gain < 9 else 0)} times as many {units}"
    )
    return f"so the interval is as narrow as if the experiment had {more}"


def _checks(bundle: Bundle) -> list[str]:
    srm = bundle["srm"]
    if srm.get("applicable"):
        line = f"Sample-ratio check: {p_value(srm['p_value'])} " + (
            "(no sign of a broken split)." if srm["ok"] else "(failed)."
        )
    else:
        line = "Sample-ratio check: not applicable (groups were observed, not assigned)."
    out = [line]
    exposures = bundle.get("exposures")
    if exposures:
        out.append(
            f"Units in more than one arm: {exposures['multiple_arms']:,} of "
            f"{exposures['units']:,} ({relative(exposures['share'], 2, False)}; at most "
            f"{relative(exposures['limit'], 0, False)} tolerated), left out of every metric."
        )
    out.append(sampling_line(bundle))
    return out


def _segments_intro(bundle: Bundle) -> list[str]:
    if not bundle.get("segments"):
        return []
    primary = bundle["metrics"][0]["name"]
    out = [
        "Each level's own lift is noisy when the level is small; the pooled lift borrows "
        'strength from the other levels of the same segment (partial pooling). "Pulled" is '
        "how far a level's estimate moved from its own lift toward the overall lift: the "
        "noisier its own lift (fewer users) against the spread between levels, the further. "
        "Read a level's pooled lift, not its own, before acting on it."
    ]
    out += [
        _spread_sentence(bundle, spread)
        for spread in bundle.get("segment_spread", [])
        if spread["metric"] == primary
    ]
    units = _units_word(bundle)
    few = [s for s in _primary_segments(bundle) if s.get("few_units")]
    if few:
        without = [s for s in few if s["own"] is None]
        names = ", ".join(f"{s['level']} ({s['n']:,})" for s in few[:8])
        more = f" and {len(few) - 8} more" if len(few) > 8 else ""
        below = next(iter(bundle.get("segment_spread", [])), {}).get("few_units_below", 100)
        out.append(
            f"Levels with fewer than {below:,} {units}, marked (few), stay in the model: "
            f"{names}{more}. "
            + (
                (
                    f"It has too few {units} in an arm for a lift of its own; it shows the lift "
                    "the model expects for a level it has not seen."
                    if len(few) == 1
                    else f"{len(without)} of them have too few {units} in an arm for a lift of "
                    "their own; those show the lift the model expects for a level it has not "
                    "seen."
                )
                if without
                else "Their pooled lifts lean on the other levels."
            )
        )
    shown = len(_primary_segments(bundle))
    files = {t["key"]: t for t in bundle.get("tables", [])}
    if shown > SEGMENT_ROWS and "segments" in files:
        out.append(
            f"The table shows the {SEGMENT_ROWS} largest of {shown:,} levels; all are in "
            f"{files['segments']['file']} beside this report."
        )
    elif "segments" in files and len(bundle["metrics"]) > 1:
        out.append(
            f"Every metric's segments are in {files['segments']['file']} beside this report."
        )
    return out


def history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    bundle = with_arm_labels(bundle)
    decision = bundle["decision"]
    if decision["verdict"] == "withheld":
        # The size of the problem, never a chance of being better (it cannot be trusted).
        srm, units = bundle["srm"], _units_word(bundle)
        parts = []
        if srm.get("applicable") and not srm["ok"]:
            short = [
                f"{a['name']} {m:,} {units} short"
                for a, m in zip(bundle["metrics"][0]["arms"], srm.get("missing", []), strict=False)
                if m > 0
            ]
            parts.append(
                f"Sample-ratio mismatch ({p_value(srm['p_value'])})"
                + (f": {', '.join(short)}" if short else "")
            )
        exposures = bundle.get("exposures")
        if exposures and not exposures["ok"]:
            parts.append(f"{exposures['multiple_arms']:,} {units} in more than one arm")
        return "; ".join(parts) or "Sampler checks failed"
    comp = {c["arm"]: c for c in bundle["metrics"][0]["comparisons"]}[bundle["primary"]]
    lift = comp["lift_rel"]
    line = (
        f"{comp['arm']} vs {comp['vs']}: {prob(comp['prob_better'])} chance better; lift "
        f"{estimate(bundle, lift, relative, rel_places(lift))}"
    )
    if decision.get("reason_code") in ("guardrail_harm", "guardrail_unclear"):
        line += (
            f"; guardrail {_deciding(bundle)}: {prob(decision['prob_harm'])} chance of harm "
            f"beyond {relative(decision['tolerated_harm'], 1, False)}"
        )
    return line


def subject(bundle: Bundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``."""
    if bundle["decision"]["verdict"] == "ship":
        return f"ship {with_arm_labels(bundle)['decision']['arm']}"
    return text.verdict_label[0].lower() + text.verdict_label[1:]
