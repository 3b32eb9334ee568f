"""Generate the demo data sets with a fixed seed and record their ground truth.

Run ``python data/generate.py`` (``make data`` does it). Every file is rewritten
deterministically; ``data/ground_truth.json`` records the values the generators used,
so tests and readers can check what the readouts recover.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261121


def signup_conversion(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Three-arm conversion test: A control, B with a known lift, C about equal to A."""
    rates = {"A": 0.100, "B": 0.112, "C": 0.101}
    n_per_arm = 12_000
    frames = [
        pd.DataFrame({"arm": arm, "converted": rng.binomial(1, p, size=n_per_arm)})
        for arm, p in rates.items()
    ]
    df = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)
    truth = {
        "rates": rates,
        "lift_rel": {arm: rates[arm] / rates["A"] - 1 for arm in ("B", "C")},
        "lift_abs": {arm: rates[arm] - rates["A"] for arm in ("B", "C")},
    }
    return df.reset_index(drop=True), truth


def income_spend(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Annual spend by income group: log-normal, 1,103 low-income and 384 high-income."""
    groups = {"low": (1103, 11.42, 0.60), "high": (384, 11.70, 0.60)}
    frames = [
        pd.DataFrame(
            {"income_group": name, "annual_spend": np.round(rng.lognormal(mu, sd, size=n), 2)}
        )
        for name, (n, mu, sd) in groups.items()
    ]
    df = pd.concat(frames, ignore_index=True)
    truth = {
        "log_mean": {name: mu for name, (_, mu, _) in groups.items()},
        "log_sd": {name: sd for name, (_, _, sd) in groups.items()},
        "log_lift": groups["high"][1] - groups["low"][1],
        "geometric_mean_ratio": math.exp(groups["high"][1] - groups["low"][1]),
    }
    return df, truth


def aa_test(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """A/A test: both arms convert at 20%; the readout should find no meaningful difference."""
    n_per_arm, rate = 80_000, 0.20
    df = pd.DataFrame(
        {
            "variant": np.repeat(["control", "treatment"], n_per_arm),
            "converted": rng.binomial(1, rate, size=2 * n_per_arm),
        }
    )
    return df, {"rate": rate, "lift_rel": 0.0}


def broken_split(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """A 50/50 test whose assignment broke: 10,000 users in A but only 9,400 in B."""
    sizes, rates = {"A": 10_000, "B": 9_400}, {"A": 0.10, "B": 0.11}
    frames = [
        pd.DataFrame({"arm": arm, "converted": rng.binomial(1, rates[arm], size=n)})
        for arm, n in sizes.items()
    ]
    truth = {"intended_split": [0.5, 0.5], "sizes": sizes, "rates": rates}
    return pd.concat(frames, ignore_index=True), truth


GENERATORS = {
    "signup_conversion.csv": signup_conversion,
    "income_spend.csv": income_spend,
    "aa_test.csv": aa_test,
    "broken_split.csv": broken_split,
}


def main() -> None:
    """Write every demo data set and ``ground_truth.json`` into ``data/``."""
    rng = np.random.default_rng(SEED)
    truth: dict[str, dict] = {"seed": SEED}
    for filename, generate in GENERATORS.items():
        df, file_truth = generate(rng)
        df.to_csv(HERE / filename, index=False)
        truth[filename] = file_truth
    (HERE / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {len(GENERATORS)} data sets and ground_truth.json to {HERE}")


if __name__ == "__main__":
    main()
