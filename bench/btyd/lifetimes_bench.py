#!/usr/bin/env python3
"""Times the `lifetimes` 0.11.3 pipeline on a `customer_id,date,amount` purchase log; prints JSON.

Stages (each timed with time.perf_counter, in this order, in one process):
  read_s           pandas.read_csv, dates parsed (ISO)
  summary_s        summary_data_from_transaction_data(..., monetary_value_col='amount',
                   observation_period_end=CAL_END, freq='W')
  fit_s            BetaGeoFitter(penalizer_coef=0.0).fit(frequency, recency, T)
  gamma_gamma_s    GammaGammaFitter(penalizer_coef=0.0).fit on the repeat buyers (frequency > 0)
  p_alive_s        BetaGeoFitter.conditional_probability_alive for every customer
  clv_s            GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01,
                   freq='W') for every customer
  total_s          read through CLV (the sum of the above)

With --parity, the script instead fits BG/NBD and Gamma-Gamma on a summary at day resolution
expressed in weeks (freq='D', freq_multiplier=7: the convention of the published CDNOW summaries),
so that parameters can be compared with a tool that uses that convention; run it as a separate
process so that it does not count in the timed run's wall time and peak memory.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import platform
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data


def bgnbd_log_likelihood(params: dict, frequency, recency, T) -> float:
    """Total BG/NBD log-likelihood in the data's own time unit (lifetimes reports a scaled mean)."""
    log_params = np.log([params["r"], params["alpha"], params["a"], params["b"]])
    f, rec, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    weights = np.ones_like(t)
    return float(-BetaGeoFitter._negative_log_likelihood(log_params, f, rec, t, weights, 0.0) * len(t))


def fit_models(summary: pd.DataFrame) -> tuple[BetaGeoFitter, GammaGammaFitter, dict]:
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(repeat["frequency"], repeat["monetary_value"])
    return bgf, ggf, {"repeat_buyers": int(len(repeat))}


def params_of(fitter, names) -> dict:
    return {k: float(fitter.params_[k]) for k in names}


def parity(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    df = pd.read_csv(args.csv, parse_dates=["date"])
    summary = summary_data_from_transaction_data(
        df,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=args.calibration_end,
        freq="D",
        freq_multiplier=7,
    )
    del df
    bgf, ggf, extra = fit_models(summary)
    clv = ggf.customer_lifetime_value(
        bgf,
        summary["frequency"],
        summary["recency"],
        summary["T"],
        summary["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    p = params_of(bgf, ["r", "alpha", "a", "b"])
    out = {
        "tool": "lifetimes",
        "summary_convention": "freq='D', freq_multiplier=7 (day resolution, in weeks)",
        "customers": int(len(summary)),
        **extra,
        "model": "bgnbd",
        "params": p,
        "log_likelihood": bgnbd_log_likelihood(p, summary["frequency"], summary["recency"], summary["T"]),
        "gamma_gamma": {"params": params_of(ggf, ["p", "q", "v"])},
        "mean_clv": float(np.mean(clv)),
        "elapsed_s": time.perf_counter() - began,
    }
    print(f"lifetimes: parity run {out['elapsed_s']:.2f} s", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--calibration-end", required=True, help="ISO date, inclusive")
    ap.add_argument("--parity", action="store_true", help="fit on a day-resolution summary instead")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", FutureWarning)
    if args.parity:
        return parity(args)

    timings: dict[str, float] = {}

    def timed(key, fn):
        began = time.perf_counter()
        out = fn()
        timings[key] = time.perf_counter() - began
        print(f"lifetimes: {key:<14} {timings[key]:8.2f} s", file=sys.stderr)
        return out

    df = timed("read_s", lambda: pd.read_csv(args.csv, parse_dates=["date"]))
    summary = timed(
        "summary_s",
        lambda: summary_data_from_transaction_data(
            df,
            "customer_id",
            "date",
            monetary_value_col="amount",
            observation_period_end=args.calibration_end,
            freq="W",
        ),
    )
    bgf = timed(
        "fit_s",
        lambda: BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"]),
    )
    repeat = summary[summary["frequency"] > 0]
    ggf = timed(
        "gamma_gamma_s",
        lambda: GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"]),
    )
    p_alive = timed(
        "p_alive_s",
        lambda: bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"]),
    )
    clv = timed(
        "clv_s",
        lambda: ggf.customer_lifetime_value(
            bgf,
            summary["frequency"],
            summary["recency"],
            summary["T"],
            summary["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="W",
        ),
    )
    timings["total_s"] = sum(timings.values())

    bg_params = params_of(bgf, ["r", "alpha", "a", "b"])
    out = {
        "tool": "lifetimes",
        "versions": {
            name: md.version(name) for name in ("lifetimes", "numpy", "pandas", "scipy", "autograd")
        },
        "python": platform.python_version(),
        "rows": int(len(df)),
        "customers": int(len(summary)),
        "repeat_buyers": int(len(repeat)),
        "summary_convention": "freq='W' (purchases binned into calendar weeks)",
        "model": "bgnbd",
        "params": bg_params,
        "log_likelihood": bgnbd_log_likelihood(bg_params, summary["frequency"], summary["recency"], summary["T"]),
        "gamma_gamma": {"params": params_of(ggf, ["p", "q", "v"])},
        "timings": timings,
        "mean_p_alive": float(np.mean(p_alive)),
        "mean_clv": float(np.mean(clv)),
    }

    out["peak_rss_kib"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
