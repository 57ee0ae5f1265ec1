#!/usr/bin/env python3
"""Copies training runs into docs/results/<name>/ (config.yaml, metrics.csv, policy.safetensors), evaluates each
final policy with `mbc eval --episodes 10 --json` (eval.json), and prints a Markdown table of the outcomes.

    scripts/collect-training-results.py [--mbc .build/release/mbc] NAME=RUN_DIR ...
e.g. scripts/collect-training-results.py sac-quadruped-seed0=runs/sac-q0 sac-lagrangian-quadruped-seed0=runs/saclag-q0
"""
import argparse, csv, json, math, os, shutil, subprocess, sys

p = argparse.ArgumentParser()
p.add_argument("--mbc", default=".build/release/mbc")
p.add_argument("--episodes", type=int, default=10)
p.add_argument("runs", nargs="+")
a = p.parse_args()

def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan

print("| run | env steps | wall time | training violations | final train return | eval return (10 ep.) | eval speed, m/s | eval falls | eval unsafe steps | λ at the end |")
print("|---|---|---|---|---|---|---|---|---|---|")
for spec in a.runs:
    name, run = spec.split("=", 1)
    out = os.path.join("docs", "results", name)
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(run, "config.yaml"), out)
    shutil.copy(os.path.join(run, "metrics", "metrics.csv"), out)
    shutil.copy(os.path.join(run, "policy.safetensors"), out)
    r = subprocess.run([a.mbc, "eval", "--policy", os.path.join(out, "policy.safetensors"), "--episodes", str(a.episodes), "--json"],
                       capture_output=True, text=True, check=True)
    ev = json.loads(r.stdout.strip().splitlines()[-1])
    with open(os.path.join(out, "eval.json"), "w") as f:
        json.dump(ev, f, indent=1, sort_keys=True)
    ev = {k: (math.nan if v is None else v) for k, v in ev.items()}
    rows = list(csv.DictReader(open(os.path.join(out, "metrics.csv"))))
    last = rows[-1]
    lam = num(last.get("lambda"))
    print(f"| {name} | {int(num(last['step'])):,} | {num(last['time/wall_seconds']) / 60:.0f} min | {int(num(last['train/violations_total'])):,} "
          f"| {num(last['train/episode_return']):.0f} | {ev['mean_return']:.0f} | {ev['mean_forward_speed']:.3f} | {ev['falls']} "
          f"| {ev['safety_violations']} | {'—' if math.isnan(lam) else f'{lam:.2f}'} |")
