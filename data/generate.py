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
    # The day each user saw the page: 3 to 28 November, evenly (no random draw, so the other
    # data sets and the conversions are as before), so that the readout can be cut as of a day.
    days = np.arange(len(df)) % 26
    df["exposed_on"] = (pd.Timestamp("2026-11-03") + pd.to_timedelta(days, unit="D")).strftime(
        "%Y-%m-%d"
    )
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


GENRES = {"Pop": 0.6, "Rock": 0.2, "Hip-hop": 0.4, "Jazz": -0.1, "Comedy": 0.3}
SIGMA_UNIT = 0.4
USER_SD = 2.3


def creators(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The pooling study: 500 creators in 5 genres (100 each), 30 to 5,000 users each.

    Each creator's true treatment effect on spend is its genre's effect plus a creator
    deviation (sd 0.40); users are split at random between control and treatment and spend
    10 + effect (if treated) + noise (sd 2.3). True effects go to ``creators_truth.csv``.
    """
    rows, truth = [], []
    for genre, genre_effect in GENRES.items():
        for k in range(100):
            creator = f"{genre.lower()}-{k + 1:03d}"
            effect = genre_effect + SIGMA_UNIT * rng.standard_normal()
            users = int(np.exp(rng.uniform(np.log(30), np.log(5000))))
            treated = rng.random(users) < 0.5
            spend = 10 + effect * treated + USER_SD * rng.standard_normal(users)
            rows.append(
                pd.DataFrame(
                    {
                        "creator": creator,
                        "genre": genre,
                        "arm": np.where(treated, "treatment", "control"),
                        "spend": np.round(spend, 2),
                    }
                )
            )
            truth.append(
                {"creator": creator, "genre": genre, "users": users, "true_effect": effect}
            )
    pd.DataFrame(truth).to_csv(HERE / "creators_truth.csv", index=False)
    return pd.concat(rows, ignore_index=True), {
        "genre_effects": GENRES,
        "sigma_unit": SIGMA_UNIT,
        "user_sd": USER_SD,
        "creators_per_genre": 100,
        "users": "log-uniform from 30 to 5,000 per creator",
        "truth_file": "creators_truth.csv",
    }


def eight_schools(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The classic eight-schools data (Rubin 1981): estimates and standard errors."""
    df = pd.DataFrame(
        {
            "school": list("ABCDEFGH"),
            "estimate": [28, 8, -3, 7, -1, 1, 18, 12],
            "std_error": [15, 10, 16, 11, 9, 11, 10, 18],
        }
    )
    return df, {"source": "Rubin (1981); Gelman et al., Bayesian Data Analysis, ch. 5"}


def three_groups(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """The classic mixture simulation: three groups with means 0, 6 and -5."""
    weights, means, sds = [0.2, 0.5, 0.3], [0.0, 6.0, -5.0], [1.0, 1.5, 3.0]
    group = rng.choice(3, size=1000, p=weights)
    value = rng.normal(np.take(means, group), np.take(sds, group))
    df = pd.DataFrame({"value": np.round(value, 4)})
    return df, {"weights": weights, "means": means, "sds": sds, "n": 1000}


TOPIC_COEFFICIENTS = {"degree_centrality": 0.04, "reply_rate": -0.10, "account_age_years": 0.005}
TOPIC_INTERCEPT = 0.08


def _topic_rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    features = pd.DataFrame(
        {
            "account": [f"acct-{i:04d}" for i in range(n)],
            "degree_centrality": np.round(rng.uniform(0, 5, n), 3),
            "reply_rate": np.round(rng.uniform(0, 0.5, n), 3),
            "account_age_years": np.round(rng.uniform(0, 10, n), 2),
        }
    )
    true_share = TOPIC_INTERCEPT + sum(
        coef * features[name] for name, coef in TOPIC_COEFFICIENTS.items()
    )
    messages = np.exp(rng.uniform(np.log(10), np.log(500), n)).astype(int)
    on_topic = rng.binomial(messages, true_share)
    return features.assign(
        messages=messages, on_topic=on_topic, share=on_topic / messages, true_share=true_share
    )


def topic_share(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Share of each account's messages on a topic: 1/10 and 10/100 are both 10%.

    The share is linear in the features; each row's share is a binomial count out of its
    messages (10 to 500). ``topic_share_new.csv`` holds 80 more accounts to predict, with
    their true shares for checking the prediction intervals.
    """
    train = _topic_rows(rng, 300)
    new = _topic_rows(rng, 80).assign(account=lambda f: "new-" + f["account"].str[5:])
    new.to_csv(HERE / "topic_share_new.csv", index=False)
    truth = {
        "intercept": TOPIC_INTERCEPT,
        "coefficients": TOPIC_COEFFICIENTS,
        "messages": "log-uniform from 10 to 500",
        "predict_file": "topic_share_new.csv",
    }
    return train.drop(columns="true_share"), truth


#: What the demo's past experiments changed (their titles).
PAST_CHANGES = (
    "Shorter signup form",
    "Trust badges at checkout",
    "Free-shipping threshold banner",
    "One-click reorder",
    "Bigger add-to-cart button",
    "Guest checkout",
    "Price anchoring",
    "Saved carts",
    "Delivery-date estimate",
    "Reviews above the fold",
    "Sticky basket",
    "Exit-intent discount",
    "Wishlist reminder email",
    "Bundle suggestions",
    "Apple Pay",
    "Simplified navigation",
    "Size guide pop-up",
    "Low-stock message",
    "Order-bump offer",
    "Progress bar at checkout",
    "Autofill address",
    "New product photos",
    "Chat widget",
    "Loyalty points display",
    "Recently viewed row",
    "Social proof toast",
    "Coupon field hidden",
    "Faster search",
    "Dark-mode checkout",
    "Gift-wrap option",
    "Subscription default",
    "Returns policy link",
    "Product videos",
    "Sort by popularity",
    "Smaller header",
    "Countdown timer",
    "Shipping cost earlier",
    "Personalised homepage",
)


def programme_history(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """38 finished conversion experiments, as summaries: what the programme's prior learns from.

    Each true relative lift is drawn from a fat-tailed population (``log(1 + lift)`` =
    0.2% + 1% x Student-t with 3 df: most changes move conversion by a percent or two, a few by
    much more); each experiment's two arms are binomial counts of 8,000 to 60,000 users at a
    base rate of 3% to 15%, and its estimate and standard error are those counts' (the delta
    method). The verdict is the default rule's on a normal approximation: ship when the 94%
    interval is above zero, keep the control when below, no difference otherwise.
    """
    n = len(PAST_CHANGES)
    z = 0.002 + 0.01 * rng.standard_t(3, n)
    users = np.exp(rng.uniform(np.log(8_000), np.log(60_000), n)).astype(int)
    base = rng.uniform(0.03, 0.15, n)
    control = rng.binomial(users, base)
    treated = rng.binomial(users, np.minimum(base * np.exp(z), 0.99))
    pa, pb = control / users, treated / users
    lift = pb / pa - 1
    se = (1 + lift) * np.sqrt((1 - pa) / (users * pa) + (1 - pb) / (users * pb))
    verdict = np.where(
        lift - 1.881 * se > 0,
        "ship",
        np.where(lift + 1.881 * se < 0, "keep_control", "no_difference"),
    )
    ended = pd.Timestamp("2025-01-06") + pd.to_timedelta(np.arange(n) * 14, unit="D")
    df = pd.DataFrame(
        {
            "experiment": [f"past-{i + 1:02d}" for i in range(n)],
            "title": PAST_CHANGES,
            "ended": ended.strftime("%Y-%m-%d"),
            "kind": "binary",
            "higher_is_better": "true",
            "lift": np.round(lift, 6),
            "se": np.round(se, 6),
            "verdict": verdict,
            "users_per_arm": users,
        }
    )
    truth = {
        "population": "log(1 + lift) = 0.002 + 0.01 * t(3 df)",
        "true_lift": {f"past-{i + 1:02d}": float(np.expm1(v)) for i, v in enumerate(z)},
    }
    return df, truth


GENERATORS = {
    "signup_conversion.csv": signup_conversion,
    "income_spend.csv": income_spend,
    "aa_test.csv": aa_test,
    "broken_split.csv": broken_split,
    "creators.csv": creators,
    "eight_schools.csv": eight_schools,
    "three_groups.csv": three_groups,
    "topic_share.csv": topic_share,
    "programme_history.csv": programme_history,
}


def main() -> None:
    """Write every demo data set, ``demo.duckdb`` and ``ground_truth.json`` into ``data/``."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import warehouse

    rng = np.random.default_rng(SEED)
    truth: dict[str, dict] = {"seed": SEED}
    for filename, generate in GENERATORS.items():
        df, file_truth = generate(rng)
        df.to_csv(HERE / filename, index=False)
        truth[filename] = file_truth
    truth["demo.duckdb"] = warehouse.write(HERE / "demo.duckdb", np.random.default_rng(SEED + 1))
    (HERE / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {len(GENERATORS)} data sets, demo.duckdb and ground_truth.json to {HERE}")


if __name__ == "__main__":
    main()
