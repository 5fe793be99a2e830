#!/usr/bin/env python3
"""Times Hugging Face Math-Verify on the same corpus as verifier-bench; one JSON result per line.

Answers (mode "a") are given to Math-Verify wrapped in $...$; completions (modes "c" strict and "l" lenient for
Ponder; Math-Verify has one way) as written.
Each case is parsed and verified `--repeat` times; the mean wall-clock and process CPU time per case are reported. Math-Verify
memoises parsed LaTeX (lru_cache) and sympy memoises results, so every timed call starts with those
caches cleared: in RL every completion is new text, so a cache hit would flatter it.
"""
import argparse, json, sys, time

from math_verify import parse, verify
from math_verify import parser as mv_parser
from sympy.core.cache import clear_cache


def clear_caches():
    for name in ("parse_latex_cached", "parse_expr_cached"):
        fn = getattr(mv_parser, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()
    clear_cache()

ap = argparse.ArgumentParser()
ap.add_argument("corpus")
ap.add_argument("--repeat", type=int, default=3)
args = ap.parse_args()


def wrap(s):
    return s if ("\\boxed" in s or "$" in s) else f"${s}$"


def check(case):
    gold = parse(wrap(case["gold"]))
    pred_text = case["prediction"] if case.get("mode") in ("c", "l") else wrap(case["prediction"])
    pred = parse(pred_text)
    return bool(verify(gold, pred))


total = 0.0
cases = [json.loads(l) for l in open(args.corpus) if l.strip()]
for c in cases:
    try:
        ok = check(c)  # warm-up, also the verdict reported
    except Exception as e:  # Math-Verify raising counts as "not equivalent"
        ok = False
    secs = cpu = 0.0
    for _ in range(args.repeat):
        clear_caches()
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            check(c)
        except Exception:
            pass
        secs += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
    secs /= args.repeat
    cpu /= args.repeat
    # Warm: the same call again with Math-Verify's caches primed (its best case), mean of --repeat calls.
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(args.repeat):
        try:
            check(c)
        except Exception:
            pass
    warm = (time.perf_counter() - start) / args.repeat
    warm_cpu = (time.process_time() - start_cpu) / args.repeat
    total += secs
    # Wall-clock and process CPU time: on a loaded machine a call of a few hundred microseconds is often preempted
    # for tens of milliseconds, which the wall clock counts and the CPU time does not.
    print(json.dumps({"id": c["id"], "equivalent": ok, "seconds": secs, "warm_seconds": warm, "cpu_seconds": cpu,
                      "warm_cpu_seconds": warm_cpu}))
print(f"math-verify: {len(cases)} cases, {len(cases) / total:.1f} cases/s", file=sys.stderr)
