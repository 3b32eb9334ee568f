"""Words of an A/B readout's failed health checks: sample ratio, exposures, data left out."""

from __future__ import annotations

from analyses.ab_test.judgement import short_of_split
from analyses.ab_test.results import AbBundle
from readout.wording.ab_test.common import (
    left_out_clauses,
    units_word,
)
from readout.wording.common import multiple_arms_problem
from readout.wording.numbers import (
    decimals_for,
    field,
    p_value,
    relative,
)


def srm_shortfalls(bundle: AbBundle) -> list[str]:
    """Each arm short of its planned share, both ways, each named (review finding 7).

    Against the planned split of all units, and against the arm that lost none (the count the
    worst-case lifts use).
    """
    srm, units = bundle.srm, units_word(bundle)
    arms = bundle.metrics[0].arms
    missing = field(srm, "missing", [])
    expected = field(srm, "expected", [])
    whole = [a.name for a, m in zip(arms, missing, strict=False) if m == 0]
    short = short_of_split(arms, expected)
    out = []
    for i, (a, m) in enumerate(zip(arms, missing, strict=False)):
        if m <= 0:
            continue
        ref = next((x for x in arms if len(whole) == 1 and x.name == whole[0]), None)
        against = (
            f"than {ref.name}'s {ref.n:,} imply, if {ref.name} lost none"
            if ref is not None
            else "than the largest arm implies, if it lost none"
        )
        if i < len(short) and short[i] > 0:
            total = sum(arm.n for arm in arms)
            out.append(
                f"{a.name} has {a.n:,} {units} where the planned split of all {total:,} expects "
                f"about {round(expected[i]):,} ({round(short[i]):,} fewer); that is "
                f"about {m:,} fewer {against}"
            )
        else:
            out.append(f"{a.name} has about {m:,} fewer {units} {against} ({a.n:,} observed)")
    return out


def health_sizes(bundle: AbBundle) -> list[str]:
    """The size of each failed health check, in place of any shipping language."""
    out = []
    srm = bundle.srm
    units = units_word(bundle)
    if field(srm, "applicable") and not srm.ok:
        short = srm_shortfalls(bundle)
        if short:
            out.append("; ".join(short) + ".")
        worst = field(srm, "worst_case_lift")
        if worst:
            places = decimals_for(100 * abs(worst[1] - worst[0]))
            out.append(
                f"If the missing {units} had all converted the lift would be "
                f"{relative(worst[1], places)}; if none had, {relative(worst[0], places)}: the "
                "data cannot tell these apart, so no lift can be trusted until the cause is "
                "found."
            )
    exposures = field(bundle, "exposures")
    if exposures and not exposures.ok:
        out.append(
            f"{exposures.multiple_arms:,} of {exposures.units:,} {units} "
            f"({relative(exposures.share, 1, False)}) were assigned to more than one arm "
            f"(at most {relative(exposures.limit, 0, False)} is tolerated); they are left "
            "out, but so many point to broken assignment."
        )
    excluded = field(bundle, "excluded")
    if excluded and not excluded.ok:
        out.append(
            f"{excluded.units:,} of {excluded.assigned:,} assigned {units} "
            f"({relative(excluded.share, 2, False)}) were left out of every metric"
            + (
                ", and so were events without a time"
                if any(e.share > excluded.limit for e in excluded.events)
                else ""
            )
            + f"; more than {relative(excluded.limit, 0, False)} withholds the verdict."
        )
    out.append("The estimates below are shown for diagnosis only and should not be used to decide.")
    return out


def srm_problem(bundle: AbBundle) -> str:
    """The sample-ratio mismatch, as a problem of the readout."""
    srm = bundle.srm
    arms = [a.name for a in bundle.metrics[0].arms]
    observed = ", ".join(f"{a} {n:,}" for a, n in zip(arms, srm.observed, strict=True))
    expected = ", ".join(f"{a} {e:,.0f}" for a, e in zip(arms, srm.expected, strict=True))
    return (
        f"Sample-ratio mismatch: the arms have {observed} {units_word(bundle)} where the "
        f"planned split expects about {expected} (chi-square {p_value(srm.p_value)}, flagged "
        f"below {srm.alpha:g}). Assignment or logging is likely broken, so a difference may "
        "come from who ended up in each arm rather than from the change. Find the cause "
        "before using these results."
    )


def exposure_problem(bundle: AbBundle) -> str:
    """Units assigned to more than one arm, as a problem of the readout."""
    return multiple_arms_problem(bundle.exposures, units_word(bundle))


def left_out_problem(bundle: AbBundle) -> str:
    """Units or events left out beyond the tolerated share, as a problem of the readout."""
    e = bundle.excluded
    worst = max([e.share] + [x.share for x in e.events])
    return (
        f"Data left out: {relative(worst, 2, False)} of the {units_word(bundle)} or their "
        f"events could not be used ({'; '.join(left_out_clauses(bundle))}), above the "
        f"{relative(e.limit, 0, False)} tolerated. Assignment or logging is likely broken "
        "for some of them, and those left out may differ from those kept; find the cause "
        "before using these results."
    )
