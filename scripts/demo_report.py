#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""demo_report.py: the figures of scripts/demo.sh, from the files it leaves in WORK.

  demo_report.py act WORK N ROUND FLOOD DELIVERED
      one act: merge the users' wrk results (WORK/act-N-ROUND/<user>: a line
      "requests duration_us errors", then "latency_us count" lines), print
      one line, keep the act's figures in WORK/act-N-ROUND.json
  demo_report.py summary WORK ROUNDS FLOOD_RATE "USER_ADDRS" [JSON_OUT]
      the table (medians over rounds), floodgate's verdicts and its
      per-source counters of every user in act 3; exit 1 when a premise of
      the demo failed (see scripts/demo.sh)
  demo_report.py chart SAMPLES OUTDIR
      act 3 over time from SAMPLES (lines "time flood_at_server passed
      dropped", counters): OUTDIR/act3.dat, act3.png and act3.txt (gnuplot)
"""
import glob
import json
import os
import statistics
import subprocess
import sys


def merge_users(d):
    """rps, p99 ms, errors, fewest requests of one user, users: over the user files in d."""
    rps, errors, hist, fewest, n = 0.0, 0, {}, None, 0
    for f in sorted(glob.glob(os.path.join(d, "*"))):
        if f.endswith(".log"):
            continue
        lines = open(f).read().split("\n")
        req, dur, err = map(int, lines[0].split())
        rps += req / (dur / 1e6) if dur else 0
        errors += err
        fewest = req if fewest is None else min(fewest, req)
        n += 1
        for line in lines[1:]:
            if line:
                v, c = map(int, line.split())
                hist[v] = hist.get(v, 0) + c
    total, acc, p99 = sum(hist.values()), 0, float("nan")
    for v in sorted(hist):
        acc += hist[v]
        if acc >= 0.99 * total:
            p99 = v / 1000
            break
    return rps, p99, errors, fewest or 0, n


def act(work, n, r, flood, delivered):
    rps, p99, errors, fewest, users = merge_users(os.path.join(work, f"act-{n}-{r}"))
    res = {"act": int(n), "round": int(r), "rps": rps, "p99_ms": p99, "errors": errors,
           "fewest_requests": fewest, "users": users, "flood_at_server": int(delivered)}
    line = f"   requests/s {rps:,.0f}, p99 {p99:.2f} ms"
    if errors:
        line += f", {errors:,} errors"
    if flood == "1":
        g = json.load(open(os.path.join(work, f"flood-{n}-{r}.json")))
        res.update(flood_sent=g["pps"], flood_method=g["method"], flood_ring_drops=g["peer_dropped"])
        line += (f"; flood sent {g['pps']:,.0f} packets/s ({g['method']}), "
                 f"at the server {int(delivered):,} packets/s")
    print(line)
    json.dump(res, open(os.path.join(work, f"act-{n}-{r}.json"), "w"))


def summary(work, rounds, rate, user_addrs, out):
    acts = {}
    for f in glob.glob(os.path.join(work, "act-*.json")):
        a = json.load(open(f))
        acts.setdefault(a["act"], []).append(a)
    med = lambda n, k: statistics.median(a[k] for a in acts[n]) if n in acts else float("nan")
    failed = []
    print()
    each = f"median of {rounds} rounds" if rounds > 1 else "one round"
    print(f"| act ({each}) | requests/s | p99 (ms) | flood sent (packets/s) | flood at the server (packets/s) |")
    print("|---|---:|---:|---:|---:|")
    labels = {1: "1. users alone", 2: "2. users + flood, no floodgate",
              3: "3. users + flood, floodgate", 4: "4. users alone, floodgate attached"}
    for n in sorted(acts):
        flood = n in (2, 3)
        sent = f"{med(n, 'flood_sent'):,.0f}" if flood else "-"
        at = f"{med(n, 'flood_at_server'):,.0f}" if flood else "-"
        print(f"| {labels[n]} | {med(n, 'rps'):,.0f} | {med(n, 'p99_ms'):.2f} | {sent} | {at} |")
    print()

    # floodgate's verdicts, act 3 of every round
    v = {"pass": 0, "drop": 0, "banned": 0, "bans": 0}
    for r in range(1, rounds + 1):
        st = json.load(open(os.path.join(work, f"stats-{r}.json")))
        v["pass"] += st["verdicts"]["pass_packets"]
        v["drop"] += st["verdicts"]["drop_packets"]
        v["banned"] += st["packets"]["banned"]
        v["bans"] += st["pressure"]["bans"]
    print(f"floodgate in act 3: passed {v['pass']:,} packets, dropped {v['drop']:,} "
          f"({v['banned']:,} of them from banned sources); {v['bans']:,} sources banned")

    # every user's packets as floodgate counted them, act 3 of every round
    users = user_addrs.split()
    seen = {u: [0, 0] for u in users}
    for r in range(1, rounds + 1):
        for row in json.load(open(os.path.join(work, f"top-{r}.json"))):
            if row["source"] in seen:
                seen[row["source"]][0] += row["packets"]
                seen[row["source"]][1] += row["drops"]
    print(f"the users in act 3, per source (floodgate top): packets passed / dropped")
    cells = [f"{u} {p:,}/{d}" for u, (p, d) in seen.items()]
    for i in range(0, len(cells), 4):
        print("   " + "   ".join(cells[i:i + 4]))
    dropped = {u: d for u, (p, d) in seen.items() if d}
    if dropped:
        failed.append(f"floodgate dropped packets of {len(dropped)} users in act 3: {dropped}")
    silent = [u for u, (p, d) in seen.items() if not p]
    if silent:
        failed.append(f"floodgate counted no packet of users {' '.join(silent)} in act 3")
    if any(a["fewest_requests"] == 0 or a["users"] != len(users) for n in acts for a in acts[n]):
        failed.append("a user made no request in some act")

    a1, a2, a3 = med(1, "rps"), med(2, "rps"), med(3, "rps")
    p1, p2, p3 = med(1, "p99_ms"), med(2, "p99_ms"), med(3, "p99_ms")
    delivered = min(a["flood_at_server"] for a in acts[2])
    print()
    print(f"act 3 keeps {a3 / a1:.0%} of act 1's requests/s (target: at least 90%), "
          f"p99 {p3 / p1:.1f}x act 1's (target: at most 2x)")
    print(f"act 2 keeps {a2 / a1:.0%} of act 1's requests/s, p99 {p2 / p1:.1f}x act 1's")
    if 4 in acts:
        print(f"act 4 (floodgate attached, no flood) keeps {med(4, 'rps') / a1:.0%} of act 1's requests/s")
    if a2 >= 0.9 * a1 and p2 <= 2 * p1:
        print("warning: act 2 was hardly hurt: the flood is too weak to make the demo's point "
              "on this machine (raise FLOOD_RATE)")
    if delivered < rate / 2:
        failed.append(f"the flood reached the server at {delivered:,} packets/s in act 2 "
                      f"(worst round), less than half the {rate:,} requested")
    if out:
        res = {"act1_rps": a1, "act1_p99_ms": p1, "act2_rps": a2, "act2_p99_ms": p2,
               "act3_rps": a3, "act3_p99_ms": p3, "act2_flood_at_server": med(2, "flood_at_server"),
               "act3_flood_at_server": med(3, "flood_at_server"), "flood_sent": med(2, "flood_sent"),
               "dropped": v["drop"], "passed": v["pass"], "user_drops": sum(dropped.values())}
        if 4 in acts:
            res.update(act4_rps=med(4, "rps"), act4_p99_ms=med(4, "p99_ms"))
        json.dump(res, open(out, "w"))
    for f in failed:
        print(f"error: demo: {f}", file=sys.stderr)
    return 1 if failed else 0


def chart(samples, outdir):
    """Rates between samples, drawn by gnuplot as a PNG and as text."""
    rows = [list(map(float, l.split())) for l in open(samples) if len(l.split()) == 4]
    if len(rows) < 3:
        print(f"error: demo: {len(rows)} samples of act 3, too few for a chart", file=sys.stderr)
        return 1
    t0 = rows[0][0]
    dat = os.path.join(outdir, "act3.dat")
    with open(dat, "w") as f:
        f.write("# seconds  flood_at_server_pps  floodgate_passed_pps  floodgate_dropped_pps\n")
        for a, b in zip(rows, rows[1:]):
            dt = b[0] - a[0]
            f.write(f"{b[0] - t0:.2f} " + " ".join(f"{(y - x) / dt:.0f}" for x, y in zip(a[1:], b[1:])) + "\n")
    # a log scale: the users' packets and the flood differ by more than ten times; a rate of 0
    # (the flood at the server once its sources are banned) leaves the chart at the bottom
    plot = (f'set xlabel "seconds into act 3"\nset ylabel "packets/s"\nset key outside below\n'
            f'set logscale y\nset yrange [1000:2e6]\nset format y "%.0s%c"\n'
            f'plot "{dat}" using 1:($4 > 0 ? $4 : 1) with lines lw 2 title "floodgate dropped", '
            f'"" using 1:($3 > 0 ? $3 : 1) with lines lw 2 title "floodgate passed", '
            f'"" using 1:($2 > 0 ? $2 : 1) with lines lw 2 title "flood at the server"\n')
    for term, out in (('pngcairo noenhanced size 900,400 font ",10"', "act3.png"),
                      ("dumb noenhanced size 78,22", "act3.txt")):
        p = subprocess.run(["gnuplot"], input=f'set terminal {term}\nset output "{os.path.join(outdir, out)}"\n'
                           f'set title "floodgate, demo act 3: users and a flood"\n' + plot,
                           text=True, capture_output=True)
        if p.returncode:
            print(f"error: demo: gnuplot: {p.stderr.strip()}", file=sys.stderr)
            return 1
    print(f"chart of act 3: {os.path.join(outdir, 'act3.png')}, {os.path.join(outdir, 'act3.txt')}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 7 and sys.argv[1] == "act":
        act(*sys.argv[2:7])
    elif len(sys.argv) == 4 and sys.argv[1] == "chart":
        sys.exit(chart(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                         sys.argv[6] if len(sys.argv) > 6 else ""))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
