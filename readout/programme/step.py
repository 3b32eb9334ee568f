"""The programme step of a run: the prior learned from the finished experiments, applied.

See :mod:`readout.programme`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analyses.ab_test import programme as ab_programme
from analyses.ab_test.figures import REDRAWN
from analyses.ab_test.programme_results import ProgrammePrior
from analyses.core import programme as pg
from analyses.core.results import MISSING, given, plain
from readout import build, registry, store
from readout import bundle as bundles
from readout.files import atomic_write_text
from readout.programme.history import Past

if TYPE_CHECKING:
    from readout.config import Config

#: Readouts that teach nothing of a programme's lifts.
NOT_TAUGHT = ("withheld", "aa_passed", "aa_failed", "higher", "lower", "unclear")


def _finished_by_progress(bundle: dict[str, Any]) -> bool:
    """A readout past its planned length (``progress``, where the bundle has it)."""
    progress = bundle.get("progress")
    if not isinstance(progress, dict):
        return False
    day, planned = progress.get("day"), progress.get("planned_days")
    return day is not None and planned is not None and day >= planned


def _past(bundle: dict[str, Any], finished: bool, source: str) -> Past | None:
    """A readout's primary lift as one experiment of the programme, if it can teach."""
    if bundle.get("analysis") != "ab_test" or bundle["decision"]["verdict"] in NOT_TAUGHT:
        return None
    typed = bundles.typed(bundle)
    if typed.observational or typed.aa_test:
        return None
    metric = typed.metrics[0]
    # The experiment alone teaches the programme, not its lift read with the user's prior.
    own = metric.without_prior if given(metric.without_prior) else metric.comparisons
    headline = next(c for c in own if c.arm == typed.primary)
    found = ab_programme.estimate(headline, typed.ci_prob)
    if found is None:
        return None
    return Past(
        name=typed.experiment,
        title=typed.title,
        kind=metric.kind,
        higher_is_better=metric.higher_is_better,
        y=found[0],
        s=found[1],
        verdict=typed.decision.verdict,
        finished=finished,
        source=source,
        ended=typed.readout_date if given(typed.readout_date) else "",
    )


def own_prior(bundle: dict[str, Any]) -> bool:
    """Whether the primary metric has the user's own prior on its lift (issue 27).

    It takes precedence over the learned prior: such a readout is not read with the
    programme's (it still teaches the programme, with its lift from the data alone).
    """
    metrics = bundle.get("metrics") or [{}]
    return bool((metrics[0].get("user_prior") or {}).get("applied"))


def _ended_readouts(config: Config, output: Path) -> Iterable[dict[str, Any]]:
    """The latest bundle of every experiment in ``output`` the config no longer names."""
    names = {e.name for e in config.experiments}
    if not output.is_dir():
        return
    for folder in sorted(output.iterdir()):
        if folder.name in names or folder.name.startswith(".") or not folder.is_dir():
            continue
        latest = store.latest(output, folder.name)
        if latest is not None:
            try:
                yield bundles.read(latest / store.BUNDLE)
            except (OSError, ValueError):
                continue


@dataclass
class Group:
    """The experiments of one pool, and its fit where enough of them have finished."""

    key: str
    members: list[Past] = field(default_factory=list)
    fit: pg.Programme | None = None
    #: The pool's prior and ``programme_prior``, computed once for all its readouts.
    _once: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def prior(self) -> pg.Mixture:
        """The fit's learned prior (for a readout not among the finished experiments)."""
        if "prior" not in self._once:
            self._once["prior"] = self.fit.prior()
        return self._once["prior"]

    def learned_prior(self, ci_prob: float) -> dict[str, Any]:
        """The fit's ``programme_prior`` numbers at ``ci_prob``."""
        if ci_prob not in self._once:
            self._once[ci_prob] = self.fit.learned_prior(ci_prob)
        return self._once[ci_prob]

    @property
    def finished(self) -> int:
        """How many finished experiments teach its prior."""
        return sum(p.finished for p in self.members)

    def index(self, name: str, source: str = "config") -> int | None:
        """Where an experiment is in the fit."""
        for i, p in enumerate(self.members):
            if p.name == name and p.source == source:
                return i
        return None

    def prior_for(self, name: str) -> tuple[pg.Mixture, bool]:
        """The prior a configured experiment is read with, and whether it is one it teaches.

        A finished experiment's prior is learned from the others only (its leave-one-out
        prior); a running one's is the pool's.
        """
        i = self.index(name)
        own = i is not None and self.members[i].finished
        return (self.fit.prior_of(i) if own else self.prior()), own

    def applied_prior(self, name: str, ci_prob: float) -> dict[str, Any]:
        """``programme_prior.applied`` of a configured experiment: its prior's numbers.

        The pool's prior, which every running experiment is read with, is summarised once.
        """
        mixture, own = self.prior_for(name)
        if own:
            return ab_programme.applied_prior(mixture, ci_prob)
        if ("applied", ci_prob) not in self._once:
            self._once["applied", ci_prob] = ab_programme.applied_prior(mixture, ci_prob)
        return self._once["applied", ci_prob]


@dataclass
class Learned:
    """The programme: its pools and each configured readout's latest bundle and folder."""

    groups: dict[str, Group]
    latest: dict[str, tuple[Path, dict[str, Any]]]


def learn(
    config: Config, output: Path, pending: dict[str, tuple[Path, Path]] | None = None
) -> Learned:
    """Fit the programme's priors from the history file and the readouts in ``output``.

    ``pending``: readouts staged but not yet published, by experiment: ``(staging folder,
    the folder it will be published to)``; each stands for its experiment's latest readout
    unless a later one is published.
    """
    pasts: list[Past] = list(config.history)
    for bundle in _ended_readouts(config, output):
        found = _past(bundle, True, "ended")
        if found is not None:
            pasts.append(found)
    latest = {}
    for experiment in config.experiments:
        if experiment.spec.analysis != "ab_test":
            continue
        folder = store.latest(output, experiment.name)
        staged = (pending or {}).get(experiment.name)
        if staged is not None and (folder is None or folder.name <= staged[1].name):
            folder = staged[0]
        if folder is None:
            continue
        bundle = bundles.read(folder / store.BUNDLE)
        latest[experiment.name] = (folder, bundle)
        found = _past(bundle, _finished_by_progress(bundle), "config")
        if found is not None:
            pasts.append(found)
    groups: dict[str, Group] = {}
    for p in pasts:
        groups.setdefault(p.group, Group(p.group)).members.append(p)
    for group in groups.values():
        if pg.prior_choice(group.finished)[0] == "learned":
            y = np.array([p.y for p in group.members])
            s = np.array([p.s for p in group.members])
            group.fit = _fit(y, s, tuple(p.finished for p in group.members))
    return Learned(groups, latest)


#: The last fits, by their numbers: a run's programme step and its page fit each pool once.
_FITS: dict[tuple, pg.Programme] = {}


def _fit(y: np.ndarray, s: np.ndarray, finished: tuple[bool, ...]) -> pg.Programme:
    """A pool's fit, reused while the same numbers are asked for again (it is deterministic)."""
    key = (y.tobytes(), s.tobytes(), finished)
    if key not in _FITS:
        if len(_FITS) >= 8:
            _FITS.clear()
        _FITS[key] = pg.fit(y, s, finished=list(finished))
    return _FITS[key]


def _group_of(typed: Any) -> str:
    metric = typed.metrics[0]
    return f"{metric.kind}:{'higher' if metric.higher_is_better else 'lower'}"


def with_programme(bundle: dict[str, Any], learned: Learned, decide_with: str) -> dict[str, Any]:
    """A configured A/B bundle read with its pool's prior, decided with ``decide_with``."""
    typed = bundles.typed(bundle)
    if typed.observational or typed.aa_test:
        return bundle
    spec = registry.get("ab_test").spec.model_validate(bundle["spec"])
    group = learned.groups.get(_group_of(typed))
    finished = group.finished if group is not None else 0
    metric = typed.metrics[0]
    direction = 1.0 if metric.higher_is_better else -1.0
    prior_mixture = None
    own = False  # a finished experiment's prior is learned from the others only
    if group is not None and group.fit is not None:
        prior_mixture, own = group.prior_for(typed.experiment)

    def read(comparisons):
        out = []
        for c in comparisons:
            lift = (
                ab_programme.read_with(prior_mixture, c, direction, typed.ci_prob)
                if prior_mixture is not None
                else None
            )
            out.append(c.model_copy(update={"programme": lift if lift is not None else MISSING}))
        return tuple(out)

    primary = read(metric.comparisons)
    # The readout's comparisons are its primary metric's: read once (each reading is an HDI
    # of a mixture with as many components as the pool's prior).
    same = typed.comparisons == metric.comparisons
    metrics = (metric.model_copy(update={"comparisons": primary}),)
    stripped = typed.model_copy(
        update={
            "metrics": metrics + tuple(typed.metrics[1:]),
            "comparisons": primary if same else read(typed.comparisons),
        }
    )
    use = prior_mixture is not None and decide_with == "programme"
    alone = ab_programme.decide_with(spec, stripped, typed.diagnostics, False)
    decision = ab_programme.decide_with(spec, stripped, typed.diagnostics, True) if use else alone
    prior: dict[str, Any] = {
        "prior": "learned" if prior_mixture is not None else "weak",
        "reason_code": pg.prior_choice(finished)[1],
        "kind": metric.kind,
        "minimum": pg.MIN_EXPERIMENTS,
        # The experiments its prior was learned from: never the experiment itself.
        "experiments": finished - 1 if own else finished,
        "decide_with": decide_with,
        "decided_with": "programme" if use else "alone",
        "alone_verdict": alone.verdict,
    }
    if group is not None and group.fit is not None:
        learned_prior = group.learned_prior(typed.ci_prob)
        prior |= {
            k: learned_prior[k]
            for k in ("family", "location", "scale", "df", "predictive", "components")
        }
        prior["applied"] = group.applied_prior(typed.experiment, typed.ci_prob)
        prior |= _conflict(prior_mixture, bundle)
    found = ProgrammePrior.model_validate(prior)
    update: dict[str, Any] = {"decision": decision, "programme_prior": found}
    if use:
        update["forecast"] = _forecast_with(prior_mixture, spec, stripped, decision.verdict)
    return plain(stripped.model_copy(update=update))


def _conflict(prior: pg.Mixture, bundle: dict[str, Any]) -> dict[str, float]:
    """``conflict_p``: the primary's own estimate's tail probability under the prior predictive.

    The estimate is the one the programme learns from (:func:`_past`): the data alone.
    """
    found = _past(bundle, False, "config")
    if found is None:
        return {}
    return {"conflict_p": pg.predictive_tail(prior, found.y, found.s)}


def prior_conflict(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """``prior_conflict`` where the primary's own estimate is far outside the prior (finding 3)."""
    from analyses.core.judgement import conflict_class

    prior = bundle.get("programme_prior") or {}
    if prior.get("prior") != "learned" or bundle["decision"]["verdict"] == "withheld":
        return []
    if conflict_class(prior.get("conflict_p")) != "conflict":
        return []
    return [{"code": "prior_conflict", "p_value": prior["conflict_p"]}]


def _forecast_with(prior: pg.Mixture, spec: Any, typed: Any, verdict: str) -> Any:
    """The forecast as the programme's verdict reads it (issue 21): none once it decides."""
    forecast = typed.forecast
    if not given(forecast) or forecast is None:
        return forecast
    if verdict != "keep_collecting":
        return None  # the programme's verdict is a decision: nothing left to forecast
    rng = np.random.default_rng(typed.seed + 2)
    return ab_programme.forecast_with(prior, spec, typed, forecast, rng)


def redraw_lift(folder: Path, bundle: dict[str, Any], learned: Learned) -> bool:
    """Redraw the lift chart of a verdict the programme decided (and did not withhold).

    The programme's estimate, the experiment's own beside it. Returns whether it was redrawn.

    The chart drawn with the fit shows the experiment alone; a chart beside a verdict the
    programme decided shows the numbers the verdict read.
    """
    figure = next((f for f in bundle.get("figures") or [] if f["key"] == "lift"), None)
    posterior = folder / store.POSTERIOR
    lift_draws = folder / store.LIFT_DRAWS
    if (
        not _programme_drew(bundle)
        or figure is None
        or not (lift_draws.is_file() or posterior.is_file())
    ):
        return False
    typed = bundles.typed(bundle)
    group = learned.groups.get(_group_of(typed))
    if group is None or group.fit is None:
        return False
    mixture, _ = group.prior_for(typed.experiment)
    posts = {}
    for comp in typed.comparisons:
        found = ab_programme.estimate(comp, typed.ci_prob)
        if found is None or not given(comp.programme):
            continue
        post = pg.update(
            pg.Mixture(np.atleast_2d(mixture.weights), mixture.means, mixture.sds), *found
        )
        posts[comp.arm] = pg.Mixture(post.weights[0], post.means[0], post.sds[0])
    if not posts:
        return False

    from analyses.ab_test import figures as ab_figures
    from analyses.core import figures

    figures.pyplot()
    draws = build.own_lift_draws(lift_draws if lift_draws.is_file() else posterior, posts)
    if draws is None:  # no draws of the relative lift: the fit's chart stays
        return False
    build.save_figure(
        ab_figures.programme_lift(typed, draws, posts, typed.ci_prob), folder / figure["file"]
    )
    card = next((f for f in bundle["figures"] if f["key"] == "scorecard"), None)
    if card is not None:  # the primary's row as the verdict read it
        read = ab_programme.read_by_programme(typed)
        primary = read.metrics[0]
        primary = primary.model_copy(update={"label": f"{primary.label} given the programme"})
        read = read.model_copy(update={"metrics": (primary, *read.metrics[1:])})
        fig = ab_figures.scorecard_figure(read, figures.ci_label(typed.ci_prob))
        build.save_figure(fig, folder / card["file"])
    return True


def _without_programme(bundle: dict[str, Any]) -> dict[str, Any]:
    """A bundle as the weak prior left it: no programme numbers, decided alone."""
    typed = bundles.typed(bundle)
    spec = registry.get("ab_test").spec.model_validate(bundle["spec"])

    def clear(comparisons):
        return tuple(c.model_copy(update={"programme": MISSING}) for c in comparisons)

    metric = typed.metrics[0]
    stripped = typed.model_copy(
        update={
            "metrics": (metric.model_copy(update={"comparisons": clear(metric.comparisons)}),)
            + tuple(typed.metrics[1:]),
            "comparisons": clear(typed.comparisons),
            "programme_prior": MISSING,
        }
    )
    decision = ab_programme.decide_with(spec, stripped, typed.diagnostics, False)
    return stripped.model_copy(update={"decision": decision}).model_dump(mode="json")


def apply(
    config: Config,
    output: Path,
    render_folder,
    pending: dict[str, tuple[Path, Path]] | None = None,
    pool: Any = None,
) -> list[str]:
    """Read every configured A/B readout's latest bundle with the programme's prior.

    ``render_folder(folder)`` re-renders a readout whose bundle changed. Returns the
    experiments whose bundles were rewritten. ``pending``: staged readouts (:func:`learn`),
    read and rewritten in their staging folders. ``pool``: an executor whose workers redraw
    the charts and write the bundles (:func:`rewrite`), a run's ``-j`` workers or its
    printer: each readout's as soon as it is read, while this process reads the next.
    """
    learned = learn(config, output, pending)
    version = registry.get("ab_test").version
    # The bundles' rewrites need only the pools, not every readout's bundle.
    slim = Learned(groups=learned.groups, latest={})
    changed = []
    redrawn = []  # (folder, its rewrite in the pool)
    for name, (folder, bundle) in learned.latest.items():
        if bundle.get("analysis_version") != version:
            continue  # an older analysis's readout: the programme reads today's only
        if config.programme.prior == "weak" or own_prior(bundle):
            if "programme_prior" not in bundle:
                continue
            new = _without_programme(bundle)
        else:
            new = with_programme(bundle, learned, config.programme.decide_with)
        if new == bundle:
            continue
        bundles.validate(new)
        was = _programme_drew(bundle)
        if pool is None:
            rewrite(folder, new, learned, was)
            render_folder(folder)
        else:
            redrawn.append((folder, pool.submit(rewrite, folder, new, slim, was)))
        changed.append((name, folder, new))
    for folder, future in redrawn:
        future.result()
        render_folder(folder)
    return [name for name, _, _ in changed]


def _programme_drew(bundle: dict[str, Any]) -> bool:
    """Whether a bundle's lift chart may be the programme's (the redraw's own test).

    Its verdict, not withheld, read the programme's lift: the raw bundle's
    :func:`analyses.ab_test.judgement.verdict_by_programme`, before it is typed.
    """
    prior = bundle.get("programme_prior") or {}
    return prior.get("decided_with") == "programme" and bundle["decision"]["verdict"] != "withheld"


def rewrite(folder: Path, bundle: dict[str, Any], learned: Learned, was: bool) -> None:
    """Write a readout's bundle as the programme read it, its lift chart redrawn.

    Where the programme's charts are not drawn now (its prior no longer decides this
    verdict, or cannot be read) but were (``was``: the bundle it replaces was decided by
    it, :func:`_programme_drew`), the fit's own are drawn again: the programme's chart
    would read a lift the verdict no longer reads.
    """
    relative = all(c.get("lift_rel") is not None for c in bundle["comparisons"])
    own = build.fits_own_drawable(folder, bundle["decision"]["verdict"], relative)
    if not redraw_lift(folder, bundle, learned) and was and own:
        build.draw_fits_own(
            folder, bundle, [f["key"] for f in bundle["figures"] if f["key"] in REDRAWN]
        )
    (folder / store.RENDER_KEY).unlink(missing_ok=True)
    atomic_write_text(folder / store.BUNDLE, bundles.dumps(bundle))
