#!/usr/bin/env python3
"""side_by_side.py — streamllm bench and llama.cpp's llama-bench on the same
GGUF files, one model after the other in one run, and a markdown table of
the medians (min-max) and the ratios.

    bench/side_by_side.py --llama-bench ../llama.cpp/build/bin/llama-bench \
        --streamllm build/streamllm -t 2 -p 128 -n 64 -r 5 MODEL.gguf ...

Both tools do a warm-up run and then -r repetitions of: prefill of -p tokens
into an empty context, and decode of -n tokens one by one from an empty
context. llama-bench reports each repetition's tok/s (samples_ts); streamllm
bench its median, min and max. Each model runs --rounds times, alternating
the two tools, and the medians are over all repetitions of all rounds. The
load average is printed before each run: timings on a busy machine are noise.
The bandwidth bound is streamllm's: weight bytes per token / measured read
bandwidth with the same thread count (see docs/PERFORMANCE.md)."""
import argparse
import json
import os
import statistics
import subprocess
import sys


def load():
    return os.getloadavg()[0]


def run_llama(exe, model, a):
    cmd = [exe, "-m", model, "-t", str(a.threads), "-p", str(a.p), "-n", str(a.n), "-r", str(a.reps), "-o", "jsonl"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    pp, tg = [], []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        (tg if rec.get("n_gen", 0) > 0 else pp).extend(rec["samples_ts"])
    return pp, tg, " ".join(cmd)


def run_ours(exe, model, a):
    cmd = [exe, "bench", "-m", model, "-t", str(a.threads), "-p", str(a.p), "-n", str(a.n), "--reps", str(a.reps),
           "--json"] + a.extra
    rec = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return rec, " ".join(cmd)


def fmt(samples):
    if not samples:
        return "-"
    return f"{statistics.median(samples):.1f} ({min(samples):.1f}-{max(samples):.1f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--streamllm", required=True)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-r", "--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--extra", nargs="*", default=[], help="more streamllm bench flags")
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()

    rows = []
    for model in a.models:
        lpp, ltg, opp, otg, recs = [], [], [], [], []
        for r in range(a.rounds):
            print(f"# {os.path.basename(model)} round {r + 1}: load {load():.2f} before llama-bench", file=sys.stderr)
            pp, tg, lcmd = run_llama(a.llama_bench, model, a)
            lpp += pp
            ltg += tg
            print(f"# {os.path.basename(model)} round {r + 1}: load {load():.2f} before streamllm", file=sys.stderr)
            rec, ocmd = run_ours(a.streamllm, model, a)
            recs.append(rec)
            # per-repetition values are not in the JSON: keep median, min and max of each round
            opp += [rec["prefill_tok_per_s"], rec["prefill_tok_per_s_min"], rec["prefill_tok_per_s_max"]]
            otg += [rec["decode_tok_per_s"], rec["decode_tok_per_s_min"], rec["decode_tok_per_s_max"]]
        ours_pp = statistics.median(r["prefill_tok_per_s"] for r in recs)
        ours_tg = statistics.median(r["decode_tok_per_s"] for r in recs)
        bound = statistics.median(r["bound_tok_per_s"] for r in recs)
        bw = statistics.median(r["read_gb_per_s"] for r in recs)
        rows.append({
            "model": os.path.basename(model), "mib": recs[0]["weight_bytes_per_token"] / 2**20,
            "llama_pp": fmt(lpp), "ours_pp": f"{ours_pp:.1f} ({min(opp):.1f}-{max(opp):.1f})",
            "pp_ratio": ours_pp / statistics.median(lpp),
            "llama_tg": fmt(ltg), "ours_tg": f"{ours_tg:.1f} ({min(otg):.1f}-{max(otg):.1f})",
            "tg_ratio": ours_tg / statistics.median(ltg),
            "bound": bound, "bw": bw, "frac": ours_tg / bound if bound else 0,
            "llama_frac": statistics.median(ltg) / bound if bound else 0,
        })
        print(f"# llama: {lcmd}\n# ours:  {ocmd}", file=sys.stderr)

    print(f"| model | MiB/token | llama.cpp pp{a.p} | streamllm pp{a.p} | ratio | llama.cpp tg{a.n} | "
          f"streamllm tg{a.n} | ratio | bound tok/s (GB/s) | streamllm / bound | llama.cpp / bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['mib']:.1f} | {r['llama_pp']} | {r['ours_pp']} | {r['pp_ratio']:.2f}x | "
              f"{r['llama_tg']} | {r['ours_tg']} | {r['tg_ratio']:.2f}x | {r['bound']:.1f} ({r['bw']:.1f}) | "
              f"{100 * r['frac']:.0f}% | {100 * r['llama_frac']:.0f}% |")


if __name__ == "__main__":
    main()
