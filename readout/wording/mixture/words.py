"""Words of a ``mixture`` readout: sub-populations in one measurement.

The words read the typed bundle (:class:`analyses.mixture.results.MixtureBundle`).
"""

from __future__ import annotations

from analyses.core.results import given
from analyses.mixture.results import Component, MixtureBundle, Redundant
from readout.wording.common import diagnostic_problems, sampling_line
from readout.wording.numbers import (
    Units,
    article,
    estimate,
    field,
    hdi_range,
    interval,
    rel_places,
    relative,
    span,
    width,
)
from readout.wording.pieces import Body, Figure, Table

VERDICT_LABELS = {"mixture": "Components estimated", "withheld": "Verdict withheld"}
WARNINGS = {
    "nearly_empty_component": lambda w, b: (
        f"Component(s) {', '.join(map(str, w.components))} hold less than "
        f"{relative(w.threshold, 0, False)} of the data: nearly empty, so they may not "
        "be real sub-populations; consider fewer components."
    ),
    "multimodal_posterior": lambda w, b: (
        "The chains disagree (largest R-hat "
        f"{w.r_hat_max:.3f}): the posterior has several modes, so components may have "
        "swapped or split between chains. Treat the component summaries with caution."
    ),
}
GLOSSARY = {
    "Component": "one sub-population: its share of the data (weight), its mean and its spread.",
    "PSIS-LOO / ELPD": (
        "an estimate of how well a model predicts data it has not seen (expected log "
        "predictive density); higher is better, differences of a few points are noise."
    ),
    "Membership probability": ("for one observation, the chance that it came from each component."),
}


def _component_name(comp: Component, i: int) -> str:
    return comp.label or f"component {i + 1}"


def _mixture_component_sentence(
    bundle: MixtureBundle, comp: Component, i: int, units: Units
) -> str:
    places = units.places(width(comp.mean))
    w = comp.weight
    share = lambda x, p: relative(x, p, False)  # noqa: E731
    return (
        f"About {share(w.mean, rel_places(w))} of {bundle.unit_label}s belong to "
        f"{_component_name(comp, i)} ({hdi_range(bundle, w.hdi, share, rel_places(w))}), "
        f"with a mean {bundle.value_label} of "
        f"{estimate(bundle, comp.mean, units.value, places)} and a spread (standard "
        f"deviation) of {units.value(comp.sd.mean, units.places(width(comp.sd)))}."
    )


def _redundant_counts(bundle: MixtureBundle) -> tuple[Redundant, ...]:
    """The counts judged redundant (none in a readout written before that rule)."""
    return bundle.redundant if given(bundle.redundant) else ()


def _largest_tried(bundle: MixtureBundle) -> str | None:
    """When the largest component count tried is chosen: a larger one might do better."""
    tried = [r.components for r in (*bundle.comparison, *_redundant_counts(bundle))]
    chosen = bundle.chosen_components
    if not tried or chosen != max(tried):
        return None
    return (
        f"{chosen} was the largest number tried, so the data might support more: add "
        f"{chosen + 1} to components to find out."
    )


def _redundant(row: Redundant) -> str:
    """Why a component count was judged redundant and not fitted in full."""
    k, rival = row.components, row.compared_with
    rivals = f"{rival} component{'s' if rival > 1 else ''}"
    return (
        f"{k} components were not fitted in full: at their best they raise the "
        f"log-likelihood by only {row.log_lik_gain:,.1f} over {rivals}, which for "
        f"{row.parameters_added} more parameters is a predictive gain of "
        f"{row.elpd_aic_gain:+,.1f} by AIC's estimate, not the {row.margin:g} a larger "
        "model needs: the extra component would be empty or a copy of another."
    )


def _mixture_selection(bundle: MixtureBundle) -> list[str]:
    rows = bundle.comparison
    redundant = _redundant_counts(bundle)
    if not rows and redundant:
        chosen = bundle.chosen_components
        return [
            f"The data support {chosen} component{'s' if chosen > 1 else ''}.",
            *map(_redundant, redundant),
        ]
    if not rows:
        return [
            f"Only {bundle.chosen_components} component(s) were fitted; give a list such as "
            "components = [1, 2, 3, 4] to let the data choose."
        ]
    chosen = bundle.chosen_components
    by_k = {r.components: r for r in rows}
    best = rows[0]
    out = []
    smaller = [r for r in rows if r.components < chosen]
    larger = [r for r in rows if r.components > chosen]
    sentence = f"The data support {chosen} component{'s' if chosen > 1 else ''}"
    if smaller:
        nearest = max(smaller, key=lambda r: r.components)
        gap = by_k[chosen].elpd - nearest.elpd
        sentence += (
            f": {chosen} predicts held-out data better than {nearest.components} by "
            f"{gap:,.0f} points of log score (higher is better: the expected log predictive "
            f"density; standard error {nearest.dse:,.1f})"
        )
    out.append(sentence + ".")
    if larger:
        nearest = min(larger, key=lambda r: r.components)
        gap = nearest.elpd - by_k[chosen].elpd
        out.append(
            f"Adding more components does not help enough to matter: {nearest.components} "
            f"components change the score by {gap:+,.1f} (standard error "
            f"{max(nearest.dse, by_k[chosen].dse):,.1f}), so the simpler model is kept."
        )
    elif best.components != chosen:
        out.append(
            f"{best.components} components score slightly higher, but within the noise of "
            "the comparison, so the simpler model is kept."
        )
    out += map(_redundant, redundant)
    caveat = _largest_tried(bundle)
    if caveat:
        out.append(caveat)
    notes = sorted({n for r in rows for n in r.diagnostics})
    if notes:
        out.append("The comparison's own checks flag: " + "; ".join(notes) + ".")
    return out


def _subsampled(bundle: MixtureBundle) -> str | None:
    """What was computed from a subset of many values, and the error that adds."""
    sub = field(bundle, "subsampled")
    if not sub:
        return None
    parts = []
    lik = sub.likelihood
    if lik:
        parts.append(
            f"the importance weights read the log-likelihood of {lik.rows:,} of the "
            f"{lik.of:,} values (drawn at random within bands of the value, the rest "
            "through an exact quadratic expansion), which at "
            f"{lik.checked_draws:,} draws checked against the exact log-likelihood was off "
            f"by at most {lik.error_max:.2g} (a weight off by at most "
            f"{relative(lik.weight_error_max, 2, False)})"
        )
    if sub.loo_rows:
        parts.append(
            f"the comparison of component counts read {sub.loo_rows:,} values drawn at "
            f"random, which adds at most {sub.loo_dse_max:,.1f} to the standard error of a "
            "difference (counted in the comparison)"
        )
    return f"With {bundle.n:,} values, " + "; ".join(parts) + "."


def body(bundle: MixtureBundle) -> Body:
    """Sentences, tables and figure text of a ``mixture`` bundle."""
    ci = interval(bundle)
    units = Units.of(bundle.spec)
    comps = bundle.components
    k = bundle.chosen_components
    verdict = bundle.decision.verdict
    if verdict == "withheld":
        headline = "Verdict withheld: the sampler's checks failed."
    elif k == 1:
        headline = f"The {bundle.value_label} looks like one population, not a mixture."
    else:
        headline = f"The data hold {k} sub-populations of {bundle.value_label}."
    selection = _mixture_selection(bundle)
    key = [_mixture_component_sentence(bundle, c, i, units) for i, c in enumerate(comps)]
    a = bundle.assignment
    key.append(
        f"{a.confident:,} of {bundle.n:,} {bundle.unit_label}s can be assigned to one "
        f"component with at least {relative(a.threshold, 0, False)} probability; "
        f"{a.ambiguous:,} lie where components overlap and stay ambiguous."
    )
    for i, count in enumerate(a.per_component):
        if count == 0 and k > 1:
            key.append(
                f"No {bundle.unit_label} belongs to {_component_name(comps[i], i)} with "
                f"{relative(a.threshold, 0, False)} certainty: it overlaps its neighbours so "
                "much (or holds so little of the data) that each value in it could also come "
                "from another component. It describes a shape in the data rather than a group "
                "whose members can be named."
            )
    health = diagnostic_problems(bundle)
    notes: list[str] = []
    # One number of decimals per column: the one its narrowest interval needs.
    share = lambda x, p: relative(x, p, False)  # noqa: E731
    columns = [
        ("weight", share, max(rel_places(c.weight) for c in comps)),
        ("mean", units.value, max(units.places(width(c.mean)) for c in comps)),
        ("sd", units.value, max(units.places(width(c.sd)) for c in comps)),
    ]
    table_rows = [
        [
            _component_name(c, i),
            *(
                f"{fmt(getattr(c, key).mean, pl)} ({span(getattr(c, key).hdi, fmt, pl)})"
                for key, fmt, pl in columns
            ),
            f"{a.per_component[i]:,}",
        ]
        for i, c in enumerate(comps)
    ]
    tables = {
        "components": Table(
            "Components, sorted by mean",
            [
                "Component",
                f"Weight ({ci})",
                f"Mean ({ci})",
                f"Spread, SD ({ci})",
                "Confidently assigned",
            ],
            table_rows,
        ),
        "comparison": Table(
            "How many components? PSIS-LOO comparison",
            [
                "Components",
                "ELPD",
                "SE",
                "Difference from best",
                "SE of difference",
                "Effective parameters",
            ],
            [
                [
                    str(r.components),
                    f"{r.elpd:,.1f}",
                    f"{r.se:,.1f}",
                    f"{r.elpd_diff:,.1f}",
                    f"{r.dse:,.1f}",
                    f"{r.p_loo:,.1f}",
                ]
                for r in bundle.comparison
            ],
        ),
    }
    prior = bundle.prior
    weighted = given(bundle.diagnostics.pareto_k)  # independent draws: no chains to compare
    model = [
        f"Each {bundle.unit_label} comes from one of {k} normal distributions; which one is "
        "never sampled but averaged over (marginalised), and the component means are kept in "
        "increasing order so that component labels mean the same in every "
        + ("draw." if weighted else "chain."),
        f"Priors: weights equally likely (Dirichlet(1, ..., 1)); each mean normal around "
        f"{units.value(prior.mu_mean, 2)} with spread {units.value(prior.mu_sd, 2)}; "
        f"spreads half-normal with scale {units.value(prior.sigma_scale, 2)} (the data's "
        "standard deviation): weak, so the data decide.",
        sampling_line(bundle)
        if weighted
        else sampling_line(bundle)[:-1]
        + (
            "; the chains' component means agree."
            if not bundle.label_switching
            else "; the chains' component means disagree (see the warning above)."
        ),
    ]
    subsampled = _subsampled(bundle)
    if subsampled:
        model.append(subsampled)
    files = {t.key: t for t in bundle.tables} if given(bundle.tables) else {}
    if "membership" in files:
        model.append(
            f"Each {bundle.unit_label}'s probability of belonging to each component is in "
            f"{files['membership'].file} beside this report."
        )
    figures = {
        "fit": Figure(
            caption=(
                f"Histogram of {bundle.value_label} with the fitted mixture (solid) and each "
                "component (dashed), at the posterior means."
            ),
            alt=(
                f"Histogram of {bundle.n:,} values of {bundle.value_label} with "
                f"{k} fitted normal components: "
                + "; ".join(
                    f"{_component_name(c, i)} weight {relative(c.weight.mean, 0, False)}, "
                    f"mean {units.value(c.mean.mean, 1)}"
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
                    f"{_component_name(c, i)} {units.value(c.mean.hdi[0], 2)} to "
                    f"{units.value(c.mean.hdi[1], 2)}"
                    for i, c in enumerate(comps)
                )
                + "."
            ),
        ),
    }
    return Body(
        headline=headline,
        # The verdict box: why this count, and whether a larger one went untried.
        reason=" ".join([selection[0], *filter(None, [_largest_tried(bundle)])]),
        key_sentences=key,
        health=health,
        notes=notes,
        sections={"selection": selection, "model": model},
        tables=tables,
        figures=figures,
        example=(
            f"chance that {article(bundle.unit_label)} {bundle.unit_label} belongs to component 1"
        ),
        answers="how many groups the data hold and where each value belongs",
    )


def history(bundle: MixtureBundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units = Units.of(bundle.spec)
    return f"{bundle.chosen_components} components: " + "; ".join(
        f"{relative(c.weight.mean, 0, False)} at {units.value(c.mean.mean, 2)}"
        for c in bundle.components
    )
