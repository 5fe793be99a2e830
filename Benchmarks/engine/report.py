"""Roofline report of Benchmarks/engine: reads the JSON lines of engine-bench (Ponder) and bench.py (transformers)
and prints, per cell, tokens/s against transformers, FLOPs per token, achieved GFLOP/s, and the fraction of the
machine's limit measured in the same run; then the goals, each met or not. Standard library only.

    python3 report.py SWIFT.jsonl PYTHON.jsonl MODELS_DIR

FLOPs (multiply-add = 2), from each model's config.json. Per token through the decoder:
    matmul     2 * L * (C*H*D + 2*C*KV*D + H*D*C + 3*C*I)      q, k, v, o projections; gate, up, down
    lm_head    2 * C * V                                        only where logits are needed
    attention  4 * L * H * D * S                                QK^T and AV for a query attending S keys
with C hidden size, I intermediate size, L layers, H query heads, KV key/value heads, D head size, V vocabulary.
Norms, RoPE, SiLU, residual adds, softmax and biases are left out (under 0.5% of the total here).
    prefill of B rows of T tokens: B * (T * matmul + 4*L*H*D * T(T+1)/2 + lm_head)   lm_head at the last position only
    decode, new tokens N: N - 1 forward steps (the first token comes from the prefill); step j feeds position T + j,
        which attends S = T + j + 1 keys, so the mean S is T + N/2. FLOPs per token = matmul + lm_head + attention(S).
Achieved GFLOP/s = FLOPs of the timed work / its seconds. The matmul peak for a dtype is the fastest of the measured
linear() shapes (decode-batch-32 MLP and lm_head, prefill MLP, a 2048 square) at the same thread count.

Bandwidth roofline (batch-1 decode, memory-bound): a token reads every weight once and the whole KV cache:
    bytes per token = (L * (C*H*D + 2*C*KV*D + H*D*C + 3*C*I) + C*V) * dtype bytes  +  2 * L * KV * D * S * dtype bytes
    roofline tokens/s = read bandwidth / bytes per token
The read bandwidth is a sum over 1 GiB of float32 (read-dominated; the copy bandwidth, read + write, is printed for
reference). Machine limits are measured before and after the models; the larger of each is the limit.
"""
import json
import pathlib
import sys

BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def load(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.startswith("{")]


def shape(models, name):
    c = json.loads((pathlib.Path(models) / name / "config.json").read_text())
    heads = c["num_attention_heads"]
    d = c.get("head_dim") or c["hidden_size"] // heads
    return dict(C=c["hidden_size"], I=c["intermediate_size"], L=c["num_hidden_layers"], H=heads,
                KV=c.get("num_key_value_heads", heads), D=d, V=c["vocab_size"])


def layer_weights(s):
    return s["C"] * s["H"] * s["D"] + 2 * s["C"] * s["KV"] * s["D"] + s["H"] * s["D"] * s["C"] + 3 * s["C"] * s["I"]


def flops(s, r):
    """FLOPs of the prefill and of the decode in run r, and decode's mean context length."""
    b, t, n = r["batch"], r["prompt"], r["new"]
    matmul, head, attention = 2 * s["L"] * layer_weights(s), 2 * s["C"] * s["V"], 4 * s["L"] * s["H"] * s["D"]
    prefill = b * (t * matmul + attention * t * (t + 1) / 2 + head)
    mean_context = t + n / 2
    decode = b * (n - 1) * (matmul + head + attention * mean_context)
    return prefill, decode, mean_context


def main(swift_path, python_path, models):
    s, p = load(swift_path), load(python_path)
    bandwidth = [r for r in s if r.get("bench") == "bandwidth"]
    if not bandwidth:  # --only: one cell without the machine's measurements, so ratios only
        for r in (r for r in s if "model" in r):
            q = next(x for x in p if (x["model"], x["dtype"], x["batch"]) == (r["model"], r["dtype"], r["batch"]))
            for phase in ("prefill", "decode"):
                print(f"{r['model']} {r['dtype']} batch {r['batch']} {phase}: Ponder {r[phase + '_tps']:.1f} tok/s, "
                      f"transformers {q[phase + '_tps']:.1f}, {r[phase + '_tps'] / q[phase + '_tps']:.2f}x (no roofline with --only)")
        return
    read = max(r["read_bytes_per_second"] for r in bandwidth)
    copy = max(r["copy_bytes_per_second"] for r in bandwidth)
    threads = {r["threads"] for r in s if "threads" in r} | {r["threads"] for r in p if "threads" in r}
    print("\nEngine roofline (Ponder's Generator against transformers' generate(), greedy, same random weights)")
    print("The machine is measured in the same run (before and after the models; the best of each is the limit):")
    print("  read bandwidth " + " / ".join(f"{r['read_bytes_per_second'] / 1e9:.1f}" for r in bandwidth)
          + f" GB/s (sum over 1 GiB float32)   copy " + " / ".join(f"{r['copy_bytes_per_second'] / 1e9:.1f}" for r in bandwidth)
          + " GB/s (read + write)")
    peaks = {}
    for dtype in sorted({r["dtype"] for r in s if r.get("bench") == "matmul"}):
        runs = [r for r in s if r.get("bench") == "matmul" and r["dtype"] == dtype]
        peaks[dtype] = max(r["flops_per_second"] for r in runs)
        by_shape = {}
        for r in runs:
            by_shape.setdefault((r["shape"], r["m"], r["k"], r["n"]), []).append(r["flops_per_second"])
        print(f"  matmul {dtype:>8} peak {peaks[dtype] / 1e9:6.0f} GFLOP/s; linear() GFLOP/s by shape (m x k x n): "
              + ", ".join(f"{name} {m}x{k}x{n} " + "/".join(f"{v / 1e9:.0f}" for v in vs)
                          for (name, m, k, n), vs in by_shape.items()))
    print(f"  threads: {', '.join(map(str, sorted(threads)))} (libtorch intra-op, both sides)")
    print("FLOPs per token: 2*L*(C*H*D + 2*C*KV*D + H*D*C + 3*C*I) + 2*C*V [lm_head] + 4*L*H*D*S [QK^T, AV at S keys];"
          " prefill's lm_head runs at the last position only.")
    print("'of limit': prefill and batch-32 decode as a fraction of the dtype's matmul peak; batch-1 decode as a fraction"
          " of the bandwidth roofline (weights + KV cache bytes per token / read bandwidth).")
    print("Numbers on a shared machine are noisy: compare ratios within one run.\n")

    header = (f"{'model':>18} {'dtype':>8} {'B':>2} {'phase':>7} | {'Ponder tok/s':>12} {'transformers':>12} {'ratio':>6} {'cpu':>6} |"
              f" {'MFLOP/tok':>9} {'GFLOP/s':>8} {'of limit':>8} | {'transformers of limit':>21}")
    print(header)
    print("-" * len(header))
    goals = []
    for r in (r for r in s if "model" in r):
        q = next((x for x in p if x["model"] == r["model"] and x["dtype"] == r["dtype"] and x["batch"] == r["batch"]), None)
        if q is None:
            continue
        shp = shape(models, r["model"])
        prefill_flops, decode_flops, context = flops(shp, r)
        tokens = {"prefill": r["batch"] * r["prompt"], "decode": r["batch"] * (r["new"] - 1)}
        work = {"prefill": prefill_flops, "decode": decode_flops}
        weights = (shp["L"] * layer_weights(shp) + shp["C"] * shp["V"]) * BYTES[r["dtype"]]
        kv = 2 * shp["L"] * shp["KV"] * shp["D"] * context * BYTES[r["dtype"]]
        roofline = read / (weights + kv)  # batch-1 decode tokens/s
        big = r["model"] != "tiny"
        for phase in ("prefill", "decode"):
            ours, theirs = r[f"{phase}_seconds"], q[f"{phase}_seconds"]
            ours_tps, theirs_tps = tokens[phase] / ours, tokens[phase] / theirs
            bandwidth_bound = phase == "decode" and r["batch"] == 1
            if bandwidth_bound:
                fraction, peer_fraction = ours_tps / roofline, theirs_tps / roofline
                limit = "roofline"
            else:
                fraction, peer_fraction = work[phase] / ours / peaks[r["dtype"]], work[phase] / theirs / peaks[r["dtype"]]
                limit = "peak"
            ratio = theirs / ours
            cpu = q.get(f"{phase}_cpu_seconds", 0) / r.get(f"{phase}_cpu_seconds", float("inf"))
            print(f"{r['model']:>18} {r['dtype']:>8} {r['batch']:>2} {phase:>7} | {ours_tps:>12.1f} {theirs_tps:>12.1f} {ratio:>5.2f}x {cpu:>5.2f}x |"
                  f" {work[phase] / tokens[phase] / 1e6:>9.1f} {work[phase] / ours / 1e9:>8.2f} {fraction:>7.0%} {limit[0]} |"
                  f" {peer_fraction:>20.0%} {limit[0]}")
            cell = f"{r['model']} {r['dtype']} batch {r['batch']} {phase}"
            if bandwidth_bound:
                if big:
                    goals.append((f"{cell}: >= 85% of the bandwidth roofline", fraction >= 0.85, f"{fraction:.0%}"))
                goals.append((f"{cell}: >= 2x transformers", ratio >= 2, f"{ratio:.2f}x"))
            else:
                if big:
                    goals.append((f"{cell}: >= 90% of the {r['dtype']} matmul peak", fraction >= 0.90, f"{fraction:.0%}"))
                goals.append((f"{cell}: >= 1.0x transformers", ratio >= 1.0, f"{ratio:.2f}x"))
    print("(ratio: Ponder's tokens/s over transformers'; cpu: the same ratio in CPU seconds of each process, steadier on a"
          " busy machine; p = of the matmul peak, r = of the bandwidth roofline; the tiny model's weights fit in cache, so"
          " its cells measure per-step overhead and carry no roofline goal.)")
    print("\nGoals (issue 18): batch-1 decode >= 85% of the bandwidth roofline and >= 2x transformers; batch-32 decode"
          " and prefill >= 90% of the matmul peak and >= 1.0x transformers, bf16 and f32")
    for text, met, value in goals:
        print(f"  {'met    ' if met else 'NOT MET'}  {text} ({value})")
    print(f"{sum(m for _, m, _ in goals)} of {len(goals)} goals met")


if __name__ == "__main__":
    main(*sys.argv[1:4])
