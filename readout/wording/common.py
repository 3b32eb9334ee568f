"""The sections every readout shares.

How to read it, glossary, provenance, diagnostics, warnings and what changed since the last
readout. They read only the bundle, as its typed model (:mod:`analyses.core.results`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from analyses.core.results import Envelope, Exposures, KeyNumbers, LeftOut, given
from readout.wording.numbers import (
    Bundle,
    Units,
    capital,
    day_text,
    decimals_for,
    estimate,
    field,
    interval,
    prob,
    relative,
    width,
)

#: A warning's words from the warning record and its bundle.
WarningText = Callable[[Any, Bundle], str]

GLOSSARY_HDI = (
    "HDI",
    "highest-density interval: the narrowest range that holds the stated share of the "
    "posterior probability.",
)
#: How much the prior weighs is judged once, in each analysis's model section; the glossary
#: only points there (it called a prior weak that the page called noticeable).
GLOSSARY_PRIOR = (
    "Prior",
    "what the model assumes before seeing the data; the model section says how much it "
    "weighs here.",
)


def provenance(bundle: Envelope) -> list[tuple[str, str]]:
    """Data and config hashes, method, seed, run time and package versions."""
    versions = ", ".join(f"{k} {v}" for k, v in bundle.versions.items())
    return [
        ("Data", f"{bundle.data_file} (SHA-256 {bundle.data_sha256[:12]}…)"),
        ("Config", f"SHA-256 {bundle.config_sha256[:12]}…"),
        ("Method", field(bundle.diagnostics, "method", "")),
        ("Seed", str(bundle.seed)),
        ("Run", f"{bundle.created_at} in {bundle.run_seconds:.1f} s"),
        ("Versions", versions),
    ]


# The next three read optional fields through ``field``.


def diagnostic_problems(bundle: Bundle) -> list[str]:
    """The sampler checks that failed, each with what it means and what to do."""
    diag = field(bundle, "diagnostics")
    r_hat, r_hat_limit = field(diag, "r_hat_max"), field(diag, "r_hat_limit")
    ess, ess_limit = field(diag, "ess_bulk_min"), field(diag, "ess_limit")
    divergences = field(diag, "divergences")
    problems = []
    if r_hat > r_hat_limit:
        problems.append(
            f"The sampler's chains disagree (largest R-hat {r_hat:.3f}, above "
            f"{r_hat_limit:g}): the posterior was not explored reliably. Rerun with "
            "more tuning steps or check the model."
        )
    if ess < ess_limit:
        problems.append(
            f"Too few effective draws (smallest bulk ESS {ess:.0f}, below "
            f"{ess_limit:g}): the reported numbers carry too much Monte Carlo noise. "
            "Rerun with more draws."
        )
    if divergences > 0:
        problems.append(
            f"The sampler reported {divergences} divergent transition(s): parts of "
            "the posterior may have been missed, so intervals can be wrong."
        )
    return problems


def sampling_line(bundle: Bundle) -> str:
    """One line on how the posterior was computed and how the checks came out."""
    diag = field(bundle, "diagnostics")
    if field(diag, "exact", False):  # no chains: R-hat and ESS say nothing here
        return (
            f"Posterior: {field(diag, 'method')}. An exact posterior, drawn without sampler "
            "chains, so R-hat and ESS do not apply."
        )
    return (
        f"Sampling: {field(diag, 'method')}; largest R-hat {field(diag, 'r_hat_max'):.3f}, "
        f"smallest bulk ESS {field(diag, 'ess_bulk_min'):,.0f}, "
        f"{field(diag, 'divergences')} divergences."
    )


def examples(w: Any) -> str:
    """`` (e.g. a, b, c)`` of a warning's examples, or nothing."""
    found = field(w, "examples") or []
    return f" (e.g. {', '.join(map(str, found[:3]))})" if found else ""


#: Why the warehouse query left a unit out, as a clause after a count ("30 users ...").
LEFT_OUT_REASONS = {
    "unit_missing": "assignment row(s) named no unit",
    "arm_missing": "had no arm",
    "exposed_missing": "had no exposure time",
    "exposed_future": "were first exposed after the readout's cut-off",
}


def left_out_clauses(excluded: LeftOut, units: str, labels: Mapping[str, str]) -> list[str]:
    """Each reason units (and events) were left out, with its count: ``30 users had no arm``.

    ``units`` names the experiment's units ("users"); ``labels`` the metrics by name.
    """
    out = []
    for reason, count in excluded.reasons.model_dump().items():
        if not count or (reason == "exposed_future" and field(excluded, "later")):
            continue  # exposed after an explicit cut-off: not yet in the experiment, no fault
        if reason == "unit_missing":
            out.append(f"{count:,} {LEFT_OUT_REASONS[reason]}")
        else:
            out.append(f"{count:,} {units} {LEFT_OUT_REASONS[reason]}")
    for e in excluded.events:
        label = labels.get(e.metric, e.metric)
        if e.ts_missing:
            out.append(
                f"{e.ts_missing:,} of their {e.events:,} {label} events "
                f"({relative(e.share, 1, False)}) had no time, so no window could hold them"
            )
        if e.unit_missing:
            out.append(f"{e.unit_missing:,} {label} events named no unit")
    return out


def left_out_sentence(
    excluded: LeftOut | None, units: str, labels: Mapping[str, str]
) -> str | None:
    """One sentence: how many units the query left out, why, and whether that matters."""
    if not excluded or not (excluded.units or excluded.events):
        if excluded and field(excluded, "later"):
            return (
                f"{excluded.later:,} {units} first exposed after {excluded.cutoff} are not "
                "counted: this readout reads the data as they stood then."
            )
        return None
    limit = relative(excluded.limit, 0, False)
    listed = "; ".join(left_out_clauses(excluded, units, labels))
    head = (
        f"{excluded.units:,} of {excluded.assigned:,} assigned {units} "
        f"({relative(excluded.share, 2, False)}) were left out of every metric"
        if excluded.units
        else "No assigned unit was left out, but events were"
    )
    verdict = (
        f"that is within the {limit} this report tolerates, so the verdict stands"
        if excluded.ok
        else f"that is more than the {limit} this report tolerates: units lost to a logging "
        "fault are rarely lost at random, so the verdict is withheld"
    )
    return f"{head} ({listed}); {verdict}."


def left_out_problem(excluded: LeftOut, units: str, labels: Mapping[str, str]) -> str:
    """The health alert of a failed left-out check: how much, why, what to do."""
    worst = max([excluded.share] + [e.share for e in excluded.events])
    return (
        f"Data left out: {relative(worst, 2, False)} of the {units} or their events could "
        f"not be used ({'; '.join(left_out_clauses(excluded, units, labels))}), above the "
        f"{relative(excluded.limit, 0, False)} tolerated. Assignment or logging is likely "
        "broken for some of them, and those left out may differ from those kept; find the "
        "cause before using these results."
    )


def left_out_check(excluded: LeftOut, units: str, labels: Mapping[str, str]) -> str:
    """The left-out check among the model's checks: what, how much, the limit."""
    clauses = left_out_clauses(excluded, units, labels)
    return (
        f"Units and events left out: {'; '.join(clauses) if clauses else 'none'} ("
        f"{relative(excluded.share, 2, False)} of {excluded.assigned:,} assigned {units}; at "
        f"most {relative(excluded.limit, 0, False)} tolerated)."
    )


def multiple_arms_check(exposures: Exposures, units: str = "units") -> str:
    """The multiple-arms check among the model's checks: how many, the share, the limit."""
    return (
        f"{capital(units)} in more than one arm: {exposures.multiple_arms:,} of "
        f"{exposures.units:,} ({relative(exposures.share, 2, False)}; at most "
        f"{relative(exposures.limit, 0, False)} tolerated), left out of every metric."
    )


def multiple_arms_problem(exposures: Exposures, units: str) -> str:
    """The health alert of a failed multiple-arms check: how many, the limit, what it means."""
    return (
        f"{exposures.multiple_arms:,} {units} ({relative(exposures.share, 2, False)}) were "
        f"exposed to more than one arm, above the {relative(exposures.limit, 0, False)} "
        "tolerated: assignment is likely broken, and the arms may not be comparable."
    )


def _columns(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else quoted[0]


#: How data were read where that was not the plain way, for every analysis (the codes are
#: ``readout.queries.READ_NOTES``).
READ_NOTES: dict[str, WarningText] = {
    "csv_delimiter": lambda w, b: (
        f"{w.file} separates its columns with {w.separator}, not commas; it was read "
        "that way (its header split into the columns the config names)."
    ),
    "decimal_comma": lambda w, b: (
        f"{w.file} writes decimals with a comma (1,5 for one and a half) in column"
        f"{'s' if len(w.columns) > 1 else ''} {_columns(w.columns)}; "
        f"{'they were' if len(w.columns) > 1 else 'it was'} read as numbers that way."
    ),
    "yes_no_as_binary": lambda w, b: (
        f"Column '{w.column}' ({w.key}) holds yes/no answers in {w.rows:,} row(s); "
        "they were read as 1 for yes (true, Y) and 0 for no (false, N)."
    ),
    "as_of_whole_file": lambda w, b: (
        f"This readout is as of {day_text(w.as_of)}, but {w.file} was read whole: set "
        "time_column to its column of dates to read only the rows up to that day."
    ),
}

#: The health check of a posterior computed without sampler chains (``Diagnostics.exact``).
GLOSSARY_EXACT = (
    "Exact posterior",
    "the posterior is computed directly (in closed form, or on a fine grid), not by a "
    "sampler, so there are no chains to check: R-hat and ESS do not apply.",
)


def data_warnings(bundle: Envelope, texts: Mapping[str, WarningText]) -> list[str]:
    """The bundle's warnings as sentences, with their counts."""
    words = {**READ_NOTES, **texts}
    return [words[w.code](w, bundle) for w in (bundle.warnings if given(bundle.warnings) else ())]


def glossary(bundle: Envelope, specific: Mapping[str, str]) -> list[tuple[str, str]]:
    """The common terms around an analysis's own, in reading order."""
    diag = bundle.diagnostics
    checks = (
        "R-hat / ESS",
        "checks that the computer's random draws agree across chains (R-hat at most "
        f"{diag.r_hat_limit:g}) and are numerous enough (effective sample size at least "
        f"{diag.ess_limit:g}).",
    )
    if field(diag, "exact", False):  # no sampler chains: R-hat and ESS say nothing here
        checks = GLOSSARY_EXACT
    elif given(diag.pareto_k):
        checks = (
            "Pareto k / ESS",
            "checks that draws from an approximation of the posterior, reweighted to the exact "
            "posterior (importance sampling), can be trusted (Pareto k at most "
            f"{diag.pareto_k_limit:g}) and are worth enough independent draws (effective "
            f"sample size at least {diag.ess_limit:g}).",
        )
    return [GLOSSARY_HDI, *specific.items(), GLOSSARY_PRIOR, checks]


def how_to_read(bundle: Envelope, example: str, answers: str = "") -> list[str]:
    """The "How to read this report" box.

    ``answers`` is what the verdict answers ("whether to ship"); a withheld verdict's box
    says the numbers are for diagnosis and quotes no probability of a finding.
    """
    ci = interval(bundle)
    pct = f"{round(100 * bundle.ci_prob)}%"
    withheld = bundle.decision.verdict == "withheld"
    return [
        "Start with the verdict and the sentences under it: "
        + (
            "the verdict is withheld, and the numbers shown are for diagnosing the problem, "
            "not for a decision."
            if withheld
            else f"they answer {answers or 'what the data show'}."
        ),
        f"Ranges are {ci}s (highest-density intervals): given the data and the model's "
        f"assumptions, the true value lies inside with {pct} probability. They are not "
        "statements about repeated experiments, which is what a confidence interval describes.",
        *(
            []
            if withheld
            else [f"Probabilities such as “{example}” are read directly: 97% means 97 in 100."]
        ),
        "Health checks come first: when one fails the verdict is withheld, because the "
        "numbers may be wrong.",
    ]


#: What each key number is called, by its ``quantity`` code, and what its chance is the
#: chance of (``None``: it has none). Fields: ``arm``, ``vs``, ``feature``, ``components``,
#: ``units``. An analysis declared elsewhere adds its own (its wording's ``KEY_QUANTITIES``).
KEY_QUANTITIES: dict[str, tuple[str, str | None]] = {
    "lift_rel": ("relative lift of {arm} over {vs}", "chance {arm} is better"),
    "lift_abs": ("absolute lift of {arm} over {vs}", "chance {arm} is better"),
    "average_effect": ("average effect over the {units}", "chance the average effect is positive"),
    "per_step": (
        "change per interquartile step of {feature}",
        "chance the association is positive",
    ),
    "largest_mean": ("mean of the largest of {components} component(s)", None),
}


@dataclass(frozen=True)
class KeyWords:
    """A readout's key numbers named: what the number is, its chance, what ``n`` counts."""

    label: str
    prob_label: str | None
    n_label: str


def key_words(
    bundle: Envelope, key: KeyNumbers, named: Mapping[str, tuple[str, str | None]] | None = None
) -> KeyWords:
    """The words of a key number's codes; an older readout's own words where it has no codes."""
    quantity = field(key, "quantity")
    if quantity is None:  # written before the codes: its English is read as it is
        return KeyWords(key.label, field(key, "prob_label"), field(key, "n_label") or "units")
    label, chance = {**KEY_QUANTITIES, **(named or {})}.get(
        quantity, (quantity.replace("_", " "), None)
    )
    feature = field(key, "feature", "")
    # A feature is named by its label where the bundle has one (a regression's coefficients).
    feature = next(
        (c.label for c in getattr(bundle, "coefficients", ()) or () if c.name == feature),
        feature.replace("_", " "),
    )
    units = f"{field(key, 'unit', 'unit')}s"
    values = {
        "arm": field(key, "arm", ""),
        "vs": field(key, "vs", ""),
        "feature": feature,
        "components": field(key, "components", ""),
        "units": units,
    }
    return KeyWords(label.format(**values), chance and chance.format(**values), units)


def key_numbers_text(bundle: Envelope, key: KeyNumbers) -> str:
    """``mean (94% HDI low to high)`` of a readout's key numbers."""
    if key.scale == "relative":
        return estimate(bundle, key, relative, decimals_for(100 * width(key)))
    # An absolute lift carries its metric's units; a value, the experiment's.
    units = Units.of(key if key.scale == "absolute" else bundle.spec, field(key, "percent", False))
    if units.percent:
        return estimate(bundle, key, units.diff, units.places(width(key)))
    return estimate(bundle, key, units.diff, decimals_for(width(key)))


def _on_its_own(bundle: Envelope) -> str:
    """' on its own' where the programme's numbers decided the verdict (never a withheld one).

    Key numbers are the experiment's own.
    """
    from analyses.ab_test.judgement import verdict_by_programme

    return " on its own" if verdict_by_programme(bundle) else ""


def history_alt(
    bundle: Envelope, readouts: int, named: Mapping[str, tuple[str, str | None]] | None = None
) -> str:
    """Caption and alt text of the experiment page's history chart."""
    key = field(bundle, "key_numbers")
    if not key:
        return ""
    return (
        f"Line chart of the {key_words(bundle, key, named).label}{_on_its_own(bundle)} over "
        f"{readouts} readouts, "
        "with its "
        f"{interval(bundle)} shaded; latest {key_numbers_text(bundle, key)}."
    )


def _change(then: str, now: str, moved: str) -> str:
    """How a number written ``then`` reads ``now``: "stayed at" the same digits, else moved.

    ``moved``: the words before the two ("moved from", "from").
    """
    return f"stayed at {now}" if then == now else f"{moved} {then} to {now}"


def since_last(
    bundle: Envelope,
    labels: Mapping[str, str],
    named: Mapping[str, tuple[str, str | None]] | None = None,
) -> list[str]:
    """What changed since the previous readout, and whether new data or config caused it."""
    previous = field(bundle, "previous")
    if not previous:
        return ["This is the experiment's first readout."]
    verdict = bundle.decision.verdict
    now, before = bundle.key_numbers, field(previous, "key_numbers")
    said = key_words(bundle, now, named)
    said_before = key_words(bundle, before, named) if before else None
    data_changed = previous.data_sha256 != bundle.data_sha256
    config_changed = previous.config_sha256 != bundle.config_sha256
    if data_changed and before and before.n == now.n:
        # The same units with changed values (late events, a changed query or engine).
        cause = f"updated data on the same {now.n:,} {said.n_label}"
    elif data_changed and before:
        cause = f"new data ({before.n:,} {said_before.n_label} then, {now.n:,} now)"
    elif data_changed:
        cause = "new data"
    else:
        cause = "the same data"
    if config_changed:
        cause += " and a changed configuration" if data_changed else " with a changed configuration"
    # A readout before the analysis's current version (an older readout may not say).
    version = field(bundle, "analysis_version")
    method_changed = field(previous, "analysis_version", version) != version
    if method_changed:
        cause += ", fitted by a newer version of the analysis"
    lines = [f"Since the last readout on {previous.date} this one uses {cause}."]
    label = labels.get
    if previous.verdict == verdict:
        lines.append(f"The verdict is unchanged ({label(verdict, verdict).lower()}).")
    else:
        lines.append(
            f"The verdict moved from “{label(previous.verdict, previous.verdict).lower()}” "
            f"to “{label(verdict, verdict).lower()}”."
        )
    if said_before and said_before.label == said.label:
        then, today = key_numbers_text(bundle, before), key_numbers_text(bundle, now)
        moved = f"The {said.label}{_on_its_own(bundle)} {_change(then, today, 'moved from')}"
        withheld = bundle.decision.verdict == "withheld"  # no chance of a finding
        chance = said.prob_label
        if not withheld and chance and None not in (field(now, "prob"), field(before, "prob")):
            moved += f"; the {chance} {_change(prob(before.prob), prob(now.prob), 'from')}"
        lines.append(moved + ".")
    if not data_changed and not config_changed and not method_changed:
        lines.append("Nothing in the inputs changed: differences are Monte Carlo noise only.")
    return lines
