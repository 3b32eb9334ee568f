"""The model and checks of an ``ab_test`` readout: priors, sensitivity, the traditional test."""

from __future__ import annotations

from math import floor  # "more than N times": rounded down, so that it is true (review 13)

from analyses.ab_test.decide import stopped_by_guardrail
from analyses.ab_test.judgement import prior_verdict, srm_uneven, verdict_by_programme
from analyses.ab_test.results import AbBundle, Test
from analyses.core.judgement import prior_class
from analyses.core.results import Diagnostics, given
from readout.wording import programme as programme_words
from readout.wording.ab_test import variance
from readout.wording.ab_test.common import (
    VERDICT_LABELS,
    arm_word,
    left_out_clauses,
    lift_text,
    metric_units,
    units_word,
)
from readout.wording.common import multiple_arms_check, sampling_line
from readout.wording.numbers import (
    Units,
    capital,
    decimals_for,
    field,
    interval,
    number,
    p_value,
    prob,
    relative,
    signed,
    span,
)
from readout.wording.pieces import Table


def confidence(test: Test) -> str:
    """The traditional test's confidence level as the bundle states it: "95%"."""
    return f"{100 * test.ci_prob:g}%"


def test_interval(test: Test, units: Units, log_note: str) -> str:
    """The traditional test's confidence interval, on its own scale."""
    lo, hi = test.ci
    if field(test, "scale") == "log":
        return span(test.ci, signed(number), decimals_for(hi - lo)) + log_note
    return span(test.ci, units.diff, units.places(hi - lo))


def frequentist_sentence(bundle: AbBundle, units: Units) -> str:
    """The traditional test beside the Bayesian result, and how to read the difference."""
    test = bundle.frequentist
    ci_text = test_interval(test, units, " on the log scale")
    ci, level = interval(bundle), confidence(test)
    # A withheld verdict's numbers are shown for diagnosis: the traditional test's too.
    diagnosis = "For diagnosis only (the verdict is withheld): " if _withheld(bundle) else ""
    return (
        f"{diagnosis}{'the' if diagnosis else 'The'} traditional {test.test} of {test.arm} "
        f"against {test.vs}{_alone(bundle)} gives "
        f"{p_value(test.p_value)} and a {level} confidence interval of {ci_text}. It "
        "answers a different question: how surprising these data would be if there were no "
        f"difference, with an interval built to cover the true difference in {level} of "
        f"repeated experiments. The {ci} is instead the range that holds the true difference "
        f"with {ci[:3]} probability, given these data and the model; with this much data the "
        "two usually agree, and where they do not, the smaller sample or the prior is the reason."
    )


def _withheld(bundle: AbBundle) -> bool:
    return bundle.decision.verdict == "withheld"


def _alone(bundle: AbBundle) -> str:
    """Where the programme's numbers decided, the traditional test reads the experiment alone."""
    if not verdict_by_programme(bundle):
        return ""
    experiments = bundle.programme_prior.experiments
    return (
        f", reading the experiment on its own (not given the programme's {experiments} "
        "experiments, as the verdict does),"
    )


def prior_sentences(bundle: AbBundle) -> list[str]:
    """The primary metric's prior in words, and whether it or the data decide."""
    prior = bundle.prior
    primary = bundle.metrics[0]
    units = metric_units(primary)
    influence = field(bundle, "prior_influence")
    out = []
    if prior.kind == "beta":
        flat = prior.alpha == 1 and prior.beta == 1
        out.append(
            f"Each arm's {primary.label} starts from a Beta({prior.alpha:g}, "
            f"{prior.beta:g}) prior"
            + (
                ": every rate from 0% to 100% equally plausible before the data."
                if flat
                else ", as set in the config."
            )
            + " With a binary metric the posterior is exact (no sampling approximation "
            "beyond the draws used to summarise it)."
        )
    elif prior.kind == "delta":
        out.append(
            f"The {primary.label} is a ratio of two per-unit sums; its uncertainty comes from "
            "the delta method (a normal approximation that is accurate with many units), with "
            "no prior."
        )
    elif prior.kind == "studentt":
        logs = "log of the " if primary.kind == "log" else ""
        out.append(
            f"Each arm's average {logs}{primary.label} starts from a normal prior centred on "
            f"{prior.mu_mean:.3g} with a spread of {prior.mu_sd:.3g} and its spread from "
            f"a half-normal prior with scale {prior.sigma_sd:.3g}, both scaled to these "
            "data; the model uses a Student-t likelihood, so a few extreme values cannot drag "
            "an arm's average. " + _robust_method(bundle.diagnostics)
        )
    else:
        scale = "log of the " if field(prior, "scale") == "log" else ""
        configured = bundle.spec.get("priors", {})
        source = (
            "as set in the config"
            if configured.get("mu_mean") is not None or configured.get("mu_sd") is not None
            else "scaled to these data (the pooled mean and twice the pooled standard deviation)"
        )
        places = decimals_for(prior.mu_sd) if prior.mu_sd else 2
        fmt = number if scale else units.value
        hurdle = primary.kind in ("lognormal", "revenue")
        what = (
            f"average log of the amount among {units_word(bundle)} with a positive {primary.label}"
            if hurdle
            else f"average {scale}{primary.label}"
        )
        out.append(
            f"Each arm's {what} starts from a normal prior centred "
            f"on {fmt(prior.mu_mean, places)} with a spread of {fmt(prior.mu_sd, places)}, "
            f"{source}; its spread from an inverse-gamma prior centred on the data's variance"
            + (
                "; the share with a positive value from a Beta(1, 1) prior (every share equally "
                "plausible)"
                if hurdle
                else ""
            )
            + ". This prior is conjugate, so the posterior is exact."
        )
    out += variance.strata_model_sentences(bundle)
    if influence is not None:
        if prior_class(influence) == "weak":
            out.append(
                "The prior is weak here: each arm's posterior is more than "
                f"{number(floor(1 / influence) if influence > 0 else 1e6, 0)} times narrower than "
                "its prior, so the data decide."
            )
            out[-1] = programme_words.weak_arm_prior(bundle, influence) or out[-1]
        else:
            out.append(
                f"The prior carries weight here: an arm's posterior is only "
                f"{number(1 / influence, 1)} times narrower than its prior; see how the verdict "
                "changes under other priors."
            )
    return out + variance.prior_model_sentences(bundle)


#: What the primary metric says where a guardrail decided the verdict, in words that do not
#: read as the verdict (its scorecard row, the sensitivity table; review finding 4).
PRIMARY_SAYS = {
    "ship": "would ship",
    "keep_collecting": "not yet clear",
    "no_difference": "no meaningful difference",
}


def sensitivity_text(bundle: AbBundle) -> tuple[list[str], Table | None]:
    """Whether the verdict holds under a flat and a sceptical prior: sentences and a table."""
    rows = field(bundle, "sensitivity")
    if not rows:
        return [], None
    verdict = bundle.decision.verdict
    base = next(iter(rows))
    ci = interval(bundle)
    sceptical = next(r for r in rows if r.prior == "sceptical")
    scale = relative(sceptical.scale, 1, False)
    described = {
        "flat": "a flat prior",
        "sceptical": (
            f"a sceptical prior that expects the {arm_word(bundle)}s within ±{scale} of each other"
        ),
    }
    if given(bundle.metrics[0].user_prior):  # issue 27: the row of the user's own prior
        described["user"] = variance.prior_label(bundle.metrics[0])
    decision = bundle.decision
    # The readout's verdict under each prior (a guardrail or a failed check overrules it).
    guards = [m.status for m in bundle.metrics[1:] if m.role == "guardrail"]
    shown = {r.prior: prior_verdict(r.verdict, decision, guards) for r in rows}
    # What the rows are compared with: the verdict as its own numbers read it, or the
    # programme's verdict where those decided.
    own = (
        decision.verdict
        if verdict_by_programme(bundle)
        else prior_verdict(bundle.metrics[0].status, decision, guards)
    )
    if verdict == "withheld":
        sentence = ""
    else:
        changed = [r for r in rows if shown[r.prior] != own]
        if not changed and stopped_by_guardrail(decision):
            # A guardrail decides whatever the primary's prior: say what each prior gives the
            # primary metric, which the table shows (review finding 4).
            sentence = (
                "The verdict holds under every prior: a guardrail keeps the control whatever "
                "the primary metric says. The primary metric alone says "
                + ", ".join(
                    f"“{PRIMARY_SAYS.get(r.verdict, VERDICT_LABELS[r.verdict].lower())}” "
                    f"under {described[r.prior]}"
                    for r in rows
                )
                + "."
            )
        elif not changed:
            sentence = (
                "The verdict holds under "
                + " and under ".join(described[r.prior] for r in rows)
                + "."
            )
        else:
            sentence = " ".join(
                f"Under {described[r.prior]} the verdict would be "
                f"“{VERDICT_LABELS[shown[r.prior]].lower()}” ({prob(r.prob_better)} chance "
                f"{r.arm} is better)."
                for r in changed
            )
    if verdict == "withheld":  # the lifts for diagnosis; no verdict, no chance
        table = Table(
            "How the lift depends on the prior (for diagnosis only)",
            ["Prior", f"Lift ({ci})"],
            [
                [
                    capital(described[r.prior]),
                    lift_text(bundle, bundle.metrics[0], r, quoted=False),
                ]
                for r in rows
            ],
        )
        return [], table
    # Where the programme's numbers decided, these priors read the experiment on its own.
    alone = " (on its own)" if verdict_by_programme(bundle) else ""
    guarded = stopped_by_guardrail(decision)
    table = Table(
        "Does the verdict depend on the prior?",
        ["Prior", "Primary metric says" if guarded else "Verdict"]
        + [f"Chance {base.arm} is better", f"Lift ({ci})"],
        [
            [
                capital(described[r.prior]),
                # Under a guardrail's stop every row's verdict is the guardrail's: the column
                # shows what the prior gives the primary metric instead.
                capital(PRIMARY_SAYS.get(r.verdict, VERDICT_LABELS[r.verdict].lower())) + alone
                if guarded
                else VERDICT_LABELS[shown[r.prior]] + alone,
                prob(r.prob_better),
                lift_text(bundle, bundle.metrics[0], r, quoted=False),
            ]
            for r in rows
        ],
    )
    return [sentence] if sentence else [], table


def _srm_passed(srm) -> str:
    """A passed sample-ratio check: "no sign of a broken split" only when it is not uneven.

    A p-value of 0.05 passes the check (it fails below ``alpha``, 0.001) but is a split that
    chance gives one time in twenty: said so (review finding 14).
    """
    if not srm_uneven(srm.p_value):
        return "(no sign of a broken split)."
    return (
        f"(passed: the check fails below {srm.alpha:g}; a split this uneven happens by chance "
        f"about {round(100 * srm.p_value):g} times in 100, so keep an eye on it)."
    )


def check_lines(bundle: AbBundle) -> list[str]:
    """One line per health check: sample ratio, multiple exposures, sampling."""
    srm = bundle.srm
    if field(srm, "applicable"):
        line = f"Sample-ratio check: {p_value(srm.p_value)} " + (
            _srm_passed(srm) if srm.ok else "(failed)."
        )
    else:
        line = "Sample-ratio check: not applicable (groups were observed, not assigned)."
    out = [line]
    exposures = field(bundle, "exposures")
    if exposures:
        out.append(multiple_arms_check(exposures))
    excluded = field(bundle, "excluded")
    if excluded:
        clauses = left_out_clauses(bundle)
        out.append(
            f"Units and events left out: {'; '.join(clauses) if clauses else 'none'} ("
            f"{relative(excluded.share, 2, False)} of {excluded.assigned:,} assigned "
            f"{units_word(bundle)}; at most {relative(excluded.limit, 0, False)} "
            "tolerated)."
        )
    out.append(sampling_line(bundle))
    return out


def _robust_method(diagnostics: Diagnostics) -> str:
    """How the Student-t posterior was computed, in a sentence."""
    k = field(diagnostics, "pareto_k")
    if k is None:
        return "It has no closed form and is sampled with NUTS (PyMC)."
    return (
        "It has no closed form: draws from an approximation around the most likely values are "
        "reweighted to the exact posterior (importance sampling), and the reweighting passed "
        f"its check (Pareto k {k:.2f}; reliable up to {diagnostics.pareto_k_limit:g})."
    )
