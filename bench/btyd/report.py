#!/usr/bin/env python3
"""Builds the side-by-side markdown table from the JSON the two tools printed.

Inputs are files under bench/out written by run.sh; the rapport ones may be missing or hold an
error, in which case the rapport column reads n/a and the reason is given under the table.
Prints the markdown and writes it to --md. Exits 0 even when the rapport side is missing (run.sh
decides the exit status) and when a parameter differs by more than the tolerance (it says so on
stderr and marks the row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

STAGES = [
    ("read_s", "read CSV"),
    ("summary_s", "RFM summary"),
    ("fit_s", "BG/NBD fit"),
    ("gamma_gamma_s", "Gamma-Gamma fit (repeat buyers)"),
    ("p_alive_s", "P(alive), every customer"),
    ("clv_s", "CLV 12 months, every customer"),
    ("total_s", "**end to end, in process**"),
]
BG = ["r", "alpha", "a", "b"]
GG = [("p", "p", "p"), ("q", "q", "q"), ("gamma", "v", "gamma")]  # label, lifetimes key, rapport key
TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}


def load_json(path: Path | None):
    if path is None or not path.exists() or path.stat().st_size == 0:
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        return {"_error": f"{path.name} is not JSON ({e})"}


def load_time(path: Path | None):
    """`/usr/bin/time -f '%e %M'` output: wall seconds and peak RSS in KiB (last line)."""
    if path is None or not path.exists():
        return None
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    try:
        wall, kib = lines[-1].split()
        return float(wall), int(kib)
    except (IndexError, ValueError):
        return None


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} × {cpu}{mem}, Linux {platform.release()}"


def secs(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"


def ratio(l, r, word: str) -> str:
    """`word` is "faster" or "less"; l / r at least 1 is bold."""
    if l is None or r is None or l <= 0 or r <= 0:
        return "n/a"
    x = l / r
    if x >= 1:
        return f"**{x:.1f}×** {word}"
    return f"{1 / x:.1f}× " + ("slower" if word == "faster" else "more")


def pct(l, r) -> float | None:
    if l is None or r is None or l == 0:
        return None
    return (r - l) / l * 100.0


def pct_text(d: float) -> str:
    return "< 0.0001 %" if abs(d) < 0.00005 else f"{d:+.4f} %"


def num(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.6g}" if abs(v) < 1e5 else f"{v:,.1f}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lifetimes", type=Path, required=True)
    ap.add_argument("--lifetimes-time", type=Path, required=True)
    ap.add_argument("--parity", type=Path)
    ap.add_argument("--rapport", type=Path)
    ap.add_argument("--rapport-time", type=Path)
    ap.add_argument("--rapport-note", default="", help="why the rapport side did not run")
    ap.add_argument("--load", action="append", default=[], help="TOOL=loadavg before its timed run")
    ap.add_argument("--data-info", type=Path, help="the generator's sidecar JSON")
    ap.add_argument("--calibration-end", required=True)
    ap.add_argument("--tolerance-pct", type=float, default=0.1)
    ap.add_argument("--md", type=Path, required=True)
    args = ap.parse_args(argv)

    lt = load_json(args.lifetimes)
    if lt is None or "_error" in lt:
        print(f"report: no lifetimes result in {args.lifetimes}", file=sys.stderr)
        return 2
    lt_time = load_time(args.lifetimes_time)
    par = load_json(args.parity)
    rp = load_json(args.rapport)
    rp_time = load_time(args.rapport_time)
    note = args.rapport_note.strip()
    if rp is not None and "_error" in rp:
        note = note or rp["_error"]
        rp = None
    if rp is not None and "timings" not in rp:
        note = note or "rapport's JSON has no `timings` object"
    if rp is None:
        rp_time = None
    rt = (rp or {}).get("timings", {}) or {}
    data = load_json(args.data_info) or {}

    rows: list[tuple[str, str, str, str]] = []
    for key, label in STAGES:
        l, r = lt["timings"].get(key), rt.get(key)
        if key == "total_s" and rp and ("p_alive_s" not in rt or "clv_s" not in rt) and "scoring_s" in rt:
            # A rapport that scores P(alive) and CLV in one pass reports them together.
            l2 = lt["timings"]["p_alive_s"] + lt["timings"]["clv_s"]
            rows.append(("P(alive) + CLV (rapport: `scoring_s`)", secs(l2), secs(rt["scoring_s"]),
                         ratio(l2, rt["scoring_s"], "faster")))
        rows.append((label, secs(l), secs(r), ratio(l, r, "faster")))
        if key == "gamma_gamma_s" and "spend_data_s" in rt and r is not None:
            # lifetimes picks its repeat buyers with a pandas filter outside the timed call;
            # rapport times that step on its own, and here with the fit.
            both = rt["spend_data_s"] + r
            rows.append(("Gamma-Gamma repeat buyers picked + fit (lifetimes: the fit alone)",
                         secs(l), secs(both), ratio(l, both, "faster")))
    # rapport computes P(alive) and CLV in one pass and reports them together as `scoring_s`.
    combined = {"p_alive_s", "clv_s"} if "scoring_s" in rt else set()
    missing = [key for key, _ in STAGES if rp and key not in rt and key not in combined]
    lw, lm = lt_time if lt_time else (None, lt.get("peak_rss_kib"))
    rw, rm = rp_time if rp_time else (None, None)
    rows.append(("**whole process, wall** (`/usr/bin/time`)", secs(lw), secs(rw), ratio(lw, rw, "faster")))
    mib = lambda k: None if k is None else k / 1024  # noqa: E731
    rows.append(
        (
            "**peak memory (max RSS)**",
            f"{mib(lm):.0f} MiB" if lm else "n/a",
            f"{mib(rm):.0f} MiB" if rm else "n/a",
            ratio(lm, rm, "less"),
        )
    )

    # Parameters: compare rapport with the lifetimes fit on the same summary convention (day
    # resolution, weeks) when there is one, else with the timed freq='W' fit.
    ref = par if par and "_error" not in par else lt
    ref_name = "day-resolution fit" if ref is par else "freq='W' fit"
    worst = None
    rp_bg = (rp or {}).get("params") or {}
    rp_gg = ((rp or {}).get("gamma_gamma") or {}).get("params") or {}
    compared = []
    for name in BG:
        compared.append((f"BG/NBD {name}", name, ref["params"].get(name), rp_bg.get(name)))
    for label, lkey, rkey in GG:
        compared.append((f"Gamma-Gamma {label}", label, ref["gamma_gamma"]["params"].get(lkey), rp_gg.get(rkey)))
    for label, name, l, r in compared:
        d = pct(l, r)
        if d is not None:
            worst = abs(d) if worst is None else max(worst, abs(d))
        mark = "n/a" if d is None else pct_text(d) + (" ✓" if abs(d) <= args.tolerance_pct else " ✗")
        rows.append((f"{label} (truth {TRUTH[name]:g})", num(l), num(r), mark))
    for label, l, r in (
        ("BG/NBD log-likelihood", ref.get("log_likelihood"), (rp or {}).get("log_likelihood")),
        ("mean CLV, 12 months", ref.get("mean_clv"), (rp or {}).get("mean_clv")),
    ):
        d = pct(l, r)
        rows.append((label, num(l), num(r), "n/a" if d is None else pct_text(d)))

    lv = lt.get("versions", {})
    head = (
        f"| measure | lifetimes {lv.get('lifetimes', '')} | rapport | rapport vs lifetimes |\n"
        "|---|---:|---:|---|\n"
    )
    table = head + "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows)

    notes = []
    notes.append(
        f"Data: {data.get('rows', lt.get('rows')):,} purchase rows, {lt['customers']:,} customers, "
        f"{data.get('first_date', '?')} .. {data.get('last_date', '?')}, calibration end {args.calibration_end} "
        f"(BG/NBD r=0.243 alpha=4.414 a=0.793 b=2.426 per week, Gamma-Gamma p=6.25 q=3.74 gamma=15.44, "
        f"seed {data.get('params', {}).get('seed', '?')})."
    )
    notes.append(
        f"Machine: {machine()}; Python {lt.get('python', '?')} with "
        + ", ".join(f"{k} {v}" for k, v in lv.items())
        + (f"; {sh('rustc', '--version')}" if sh("rustc", "--version") else "")
        + (f"; rapport at {sh('git', 'describe', '--always', '--dirty')}" if rp else "")
        + "."
    )
    loads = [kv.split("=", 1) for kv in args.load if "=" in kv and kv.split("=", 1)[1].strip()]
    if loads:
        notes.append(
            "Load average (1, 5, 15 min) just before each timed run: "
            + "; ".join(f"{k} {v}" for k, v in loads)
            + ". On 2 cores, anything much above 0 means other work shared the machine and the times are noisy."
        )
    if rp:
        extra = []
        if rp.get("customers") is not None and rp.get("customers") != ref.get("customers"):
            extra.append(f"customers differ: lifetimes {ref.get('customers')}, rapport {rp.get('customers')}")
        if missing:
            extra.append("rapport's `timings` lacks " + ", ".join(f"`{k}`" for k in missing))
        if rp.get("converged") is False:
            extra.append("rapport reports converged: false")
        if extra:
            notes.append("**Warning:** " + "; ".join(extra) + ".")
    else:
        notes.append(f"**rapport did not run:** {note or 'no result'}")
    w = lt["params"]
    wg = lt["gamma_gamma"]["params"]
    notes.append(
        "Times are lifetimes' timed run, which is the pipeline as specified: `summary_data_from_transaction_data(..., "
        "freq='W')`. That call bins purchases into calendar weeks (several purchases in one week count as one, "
        "recency and T are whole weeks), so its fit is of a different summary: "
        + ", ".join(f"{k}={w[k]:.4g}" for k in BG)
        + f", p={wg['p']:.4g}, q={wg['q']:.4g}, gamma={wg['v']:.4g}, mean CLV {lt['mean_clv']:.4g}. "
        + (
            "Parameters are therefore compared with a second, untimed lifetimes run on the day-resolution summary "
            "(`freq='D', freq_multiplier=7`: purchases on one day are one purchase, times in weeks), which is the "
            "convention of the published CDNOW summaries and of rapport."
            if ref is par
            else "No day-resolution lifetimes run was found, so parameters are compared with the freq='W' fit."
        )
    )
    notes.append(
        f"Speed-up = lifetimes time / rapport time; parameter difference = (rapport - lifetimes) / lifetimes, "
        f"target within ±{args.tolerance_pct:g} % (✓). Log-likelihoods are totals in weeks, from the {ref_name}."
    )

    md = "# BG/NBD + Gamma-Gamma: lifetimes vs rapport\n\n" + table + "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    args.md.write_text(md)
    print(md)
    if rp and worst is not None and worst > args.tolerance_pct:
        print(f"report: WARNING: a parameter differs by {worst:.4f} % (> {args.tolerance_pct:g} %)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
