"""The fixed cost of one readout in a process that has made one already (issue 25).

A programme run's worker fits and prints many readouts; what each one costs after the first
is what bounds the run. This fits one experiment of a config ``N`` times into fresh staging
folders and prints each one's HTML and PDF, in one process, after one warm-up readout, and
gives the CPU seconds (user and system, ``time.process_time``) of each step per readout:
the fit (query, model, bundle, figures, tables), the draws' files alone (``posterior.nc``
where written: a sampled fit, or ``--save-draws`` as ``save_draws = true``; an A/B
readout's ``.lift_draws.npz``), the page (HTML) and the PDF (WeasyPrint).

``python bench/readout_fixed.py [--config experiments.toml] [--only checkout-redesign]
[-n 20] [--save-draws]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Time the steps of ``-n`` readouts after a warm-up one; print CPU seconds per readout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "experiments.toml"))
    parser.add_argument("--only", default="checkout-redesign")
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--save-draws", action="store_true", help="write posterior.nc too")
    args = parser.parse_args()

    from readout import build, render, store
    from readout.bundle import read
    from readout.config import load_config

    config = load_config(args.config)
    experiment = next(e for e in config.experiments if e.name == args.only)
    clock = time.process_time
    steps = {"fit and write": 0.0, "of which draws": 0.0, "html": 0.0, "pdf": 0.0}

    if args.save_draws:  # as under [settings] save_draws = true
        from dataclasses import replace

        experiment = replace(
            experiment, settings=experiment.settings.model_copy(update={"save_draws": True})
        )
    write_draws = build.write_draws

    def timed(*a, **k):  # the draws' files, timed inside the fit
        start = clock()
        try:
            return write_draws(*a, **k)
        finally:
            if counting:
                steps["of which draws"] += clock() - start

    build.write_draws = timed

    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp)
        for i in range(args.n + 1):
            counting = i > 0  # the first readout pays the imports: not counted
            staging = output / f"r{i}"
            staging.mkdir()
            start = clock()
            build.build_readout(experiment, staging, "2026-12-06", output)
            fitted = clock()
            html = render.report_html(read(staging / store.BUNDLE), staging, "")
            paged = clock()
            render.render_readout(staging)
            printed = clock()
            if counting:
                steps["fit and write"] += fitted - start
                steps["html"] += paged - fitted
                # render_readout makes the page again before printing it
                steps["pdf"] += (printed - paged) - (paged - fitted)
            assert html
    print(f"{args.only}: CPU seconds per readout, mean of {args.n} after one warm-up")
    for step, total in steps.items():
        print(f"  {step:24s} {total / args.n:6.3f}")
    print(
        f"  {'total':24s} {(steps['fit and write'] + steps['html'] + steps['pdf']) / args.n:6.3f}"
    )


if __name__ == "__main__":
    main()
