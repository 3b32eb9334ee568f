"""The programme page: every experiment's stage and attention codes, and the pools' priors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analyses.ab_test import programme as ab_programme
from analyses.core import programme as pg
from analyses.core.results import given
from readout import bundle as bundles
from readout.files import atomic_write_text
from readout.programme.history import Past
from readout.programme.step import Group, learn, prior_conflict

if TYPE_CHECKING:
    from analyses.ab_test.results import Metric as MetricResult
    from readout.config import Config

#: The page of the programme, beside the site's index.
PAGE = "programme.html"

#: Verdicts that leave an experiment running (every other one, but withheld, decides).
RUNNING = ("keep_collecting", "unclear")


def stage(bundle: dict[str, Any]) -> str:
    """Where an experiment stands: ``withheld``, ``collecting`` or ``decided``."""
    verdict = bundle["decision"]["verdict"]
    if verdict == "withheld":
        return "withheld"
    return "collecting" if verdict in RUNNING else "decided"


def attention(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """What needs a look in a readout, as codes with their numbers.

    ``srm`` (a sample-ratio mismatch), ``health`` (another failed check), ``guardrail_harm``
    (a guardrail's status is harm: :func:`analyses.ab_test.decide.harming_guardrails`),
    ``no_recent_traffic`` (no exposures for days before the as-of day) and ``stalled`` (the
    data have not changed since the readout before: no new units or events reached it).
    Read from the typed bundle (:func:`readout.bundle.typed`).
    """
    from analyses.ab_test.decide import harming_guardrails

    typed = bundles.typed(bundle)
    found: list[dict[str, Any]] = []
    srm = getattr(typed, "srm", None)
    if srm is not None and not srm.ok:
        found.append({"code": "srm", "p_value": srm.p_value})
    failed = _given(typed.decision, "failed_checks") or ()
    if any(check != "srm" for check in failed) or (not failed and not typed.diagnostics.ok):
        found.append({"code": "health", "checks": [c for c in failed if c != "srm"]})
    for metric in harming_guardrails(getattr(typed, "metrics", ())):
        found.append({"code": "guardrail_harm", "metric": _full_label(metric)})
    for warning in _given(typed, "warnings") or ():
        if warning.code == "no_recent_traffic":
            found.append({"code": "no_recent_traffic", "since": warning.last_exposure})
    previous = _given(typed, "previous")
    if previous and previous.data_sha256 == typed.data_sha256:
        found.append({"code": "stalled", "since": previous.date})
    return found


def _given(record: Any, name: str) -> Any:
    """A typed record's field, or ``None`` where the record has none or left it out."""
    value = getattr(record, name, None)
    return value if given(value) else None


def _full_label(metric: MetricResult) -> str:
    """A metric's label as a list of several names it.

    A quantile's percentile follows its label ("page load time, p90"), so two guardrails
    on one measure read apart.
    """
    from analyses.ab_test.quantile import percentile_suffix

    return metric.label + percentile_suffix(metric.kind, _given(metric, "quantile"))


def _programme_row(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """The headline comparison's own and programme lifts, where the bundle has them."""
    if "programme_prior" not in bundle:
        return None
    metric = bundle["metrics"][0]
    comp = next((c for c in metric["comparisons"] if c["arm"] == bundle["primary"]), None)
    if comp is None or "programme" not in comp:
        found = {"prior": bundle["programme_prior"]}
        return found | ({"alone": comp["lift_rel"]} if comp and comp.get("lift_rel") else {})
    return {
        "prior": bundle["programme_prior"],
        "alone": comp["lift_rel"],
        "programme": comp["programme"],
    }


def page_context(config: Config, output: Path, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of the programme page: every experiment, and each pool's learned prior.

    ``entries`` are the site's (:func:`readout.site.write_site`): each experiment's readouts.
    """
    experiments = []
    for entry in entries:
        latest = entry["latest"]
        row: dict[str, Any] = {"entry": entry}
        if latest is not None:
            bundle = latest["bundle"]
            row |= {
                "stage": stage(bundle),
                "progress": bundle.get("progress"),
                "attention": attention(bundle) + prior_conflict(bundle),
                "programme": _programme_row(bundle),
            }
        experiments.append(row)
    learned = learn(config, output)
    pools = []
    for group in learned.groups.values():
        pool: dict[str, Any] = {"key": group.key, "finished": group.finished, "fit": None}
        if group.fit is not None:
            fit = group.fit
            ci_prob = config.settings.ci_prob
            post = fit.posteriors(prob=ci_prob)
            shipped = [i for i, p in enumerate(group.members) if p.verdict == "ship"]
            pool["fit"] = {
                "prior": _page_prior(group, ci_prob),
                "loo": pg.loo_check(fit, ci_prob),
                "impact": _impact(fit, group.members, shipped, ci_prob),
                "members": [
                    {
                        "past": p,
                        "alone": float(np.expm1(p.y)),
                        "mean": float(post["mean"][i]),
                        "hdi": [float(v) for v in post["hdi"][i]],
                    }
                    for i, p in enumerate(group.members)
                    if p.finished  # every experiment the prior learned from (finding 5)
                ],
            }
        pools.append(pool)
    return {"experiments": experiments, "pools": pools, "ci_prob": config.settings.ci_prob}


def _page_prior(group: Group, ci_prob: float) -> dict[str, Any]:
    """The pool's learned prior, with the mixture a running readout applies (``applied``).

    The page describes the prior as the readouts do, from the one mixture (finding 14).
    """
    return group.learned_prior(ci_prob) | {
        "applied": ab_programme.applied_prior(group.prior(), ci_prob)
    }


def _impact(
    fit: pg.Programme, members: list[Past], shipped: list[int], ci_prob: float
) -> dict[str, Any] | None:
    """The shipped changes' cumulative impact, and which of them are still running.

    A finished experiment with a ship verdict was shipped; a running one with a ship verdict
    is counted at its own programme posterior, and named (``running``): its change is
    not known to be shipped.
    """
    if not shipped:
        return None
    impact = pg.cumulative_impact(fit, shipped, prob=ci_prob)
    impact["running"] = [members[i].title for i in shipped if not members[i].finished]
    return impact


def write_page(config: Config, output: Path, entries: list[dict[str, Any]]) -> None:
    """Write ``programme.html`` beside the site's index."""
    from readout import render
    from readout.wording import programme as words

    context = page_context(config, output, entries)
    html = render.page(PAGE + ".j2", page=words.page(context))
    atomic_write_text(output / PAGE, html)
