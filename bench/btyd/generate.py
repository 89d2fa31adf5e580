#!/usr/bin/env python3
"""Synthetic purchase log from the BG/NBD and Gamma-Gamma processes (CDNOW's published fits).

Writes `customer_id,date,amount` (ISO dates, amounts in currency units with cents), one row per
purchase, sorted by date then customer. Vectorised with numpy and seeded, so the same parameters
always give the same file byte for byte.

The process, per customer (time in weeks):
  * first purchase at a time uniform over the first `acquisition_weeks` weeks of the log;
  * purchase rate lambda ~ Gamma(shape r, rate alpha), dropout probability p ~ Beta(a, b);
  * repeat purchases at the events of a Poisson(lambda) process; right after each repeat purchase
    the customer dies with probability p (so the first purchase is never the last by death);
  * every purchase's amount ~ Gamma(shape p_gg, rate nu), nu ~ Gamma(shape q, rate gamma) per
    customer, rounded to cents (at least 0.01).
A purchase at continuous time t falls on day floor(7 t); the log keeps the days up to and including
`calibration_end`, which is also the calibration end handed to both tools.

If the output file exists and its sidecar `<file>.params.json` records the same parameters (and the
same version of this script), nothing is done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="CSV file to write")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20050101)
    ap.add_argument("--start", default="1997-01-01", help="first day of the log (ISO)")
    ap.add_argument("--calibration-end", required=True, help="last day of the log, inclusive (ISO)")
    ap.add_argument("--acquisition-weeks", type=float, default=12.0)
    ap.add_argument("--r", type=float, default=0.243)
    ap.add_argument("--alpha", type=float, default=4.414)
    ap.add_argument("--a", type=float, default=0.793)
    ap.add_argument("--b", type=float, default=2.426)
    ap.add_argument("--p", type=float, default=6.25)
    ap.add_argument("--q", type=float, default=3.74)
    ap.add_argument("--gamma", type=float, default=15.44)
    ap.add_argument("--force", action="store_true", help="regenerate even if the file is up to date")
    return ap.parse_args(argv)


def simulate(args: argparse.Namespace) -> pd.DataFrame:
    rng = np.random.default_rng(args.seed)
    n = args.customers
    start = dt.date.fromisoformat(args.start)
    end = dt.date.fromisoformat(args.calibration_end)
    end_day = (end - start).days  # inclusive
    if end_day < 0:
        raise SystemExit("calibration end is before the start of the log")
    horizon = (end_day + 1) / 7.0  # purchases strictly before this time (weeks) are in the log

    t0 = rng.uniform(0.0, args.acquisition_weeks, size=n)
    if (t0 >= horizon).any():
        # Only happens with a window shorter than the acquisition period.
        t0 = np.minimum(t0, np.nextafter(horizon, 0.0))
    lam = rng.gamma(shape=args.r, scale=1.0 / args.alpha, size=n)
    drop = rng.beta(args.a, args.b, size=n)

    customers = [np.arange(n, dtype=np.int64)]
    times = [t0]
    idx = np.arange(n, dtype=np.int64)  # customers still alive and inside the window
    t = t0.copy()
    while idx.size:
        t = t + rng.exponential(1.0, size=idx.size) / lam[idx]
        inside = t < horizon
        idx, t = idx[inside], t[inside]
        customers.append(idx)
        times.append(t)
        survives = rng.random(idx.size) >= drop[idx]
        idx, t = idx[survives], t[survives]

    cust = np.concatenate(customers)
    day = np.floor(np.concatenate(times) * 7.0).astype(np.int64)
    nu = rng.gamma(shape=args.q, scale=1.0 / args.gamma, size=n)
    amount = rng.gamma(shape=args.p, size=cust.size) / nu[cust]
    cents = np.maximum(np.rint(amount * 100.0), 1).astype(np.int64)

    order = np.lexsort((cust, day))
    cust, day, cents = cust[order], day[order], cents[order]
    dates = pd.date_range(start, periods=end_day + 1, freq="D").strftime("%Y-%m-%d").to_numpy()
    return pd.DataFrame(
        {
            "customer_id": cust + 1,
            "date": dates[day],
            "amount": cents / 100.0,
        }
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    params = {k: v for k, v in sorted(vars(args).items()) if k not in ("out", "force")}
    params["generator_sha256"] = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    sidecar = args.out.with_name(args.out.name + ".params.json")
    if not args.force and args.out.exists() and sidecar.exists():
        try:
            recorded = json.loads(sidecar.read_text())
        except ValueError:
            recorded = None
        if recorded is not None and recorded.get("params") == params:
            print(f"{args.out}: up to date ({recorded['rows']} rows), not regenerated", file=sys.stderr)
            return 0

    began = time.perf_counter()
    df = simulate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    df.to_csv(tmp, index=False, float_format="%.2f")
    sidecar.unlink(missing_ok=True)
    os.replace(tmp, args.out)
    info = {
        "params": params,
        "rows": int(len(df)),
        "customers": int(df["customer_id"].nunique()),
        "first_date": str(df["date"].iloc[0]),
        "last_date": str(df["date"].iloc[-1]),
        "bytes": args.out.stat().st_size,
    }
    sidecar.write_text(json.dumps(info, indent=2) + "\n")
    print(
        f"{args.out}: wrote {info['rows']} rows for {info['customers']} customers "
        f"({info['first_date']} .. {info['last_date']}) in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
