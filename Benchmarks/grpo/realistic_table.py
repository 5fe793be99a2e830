"""The table of Benchmarks/grpo/run --realistic: python3 realistic_table.py CONFIG.json RESULTS.jsonl

Model FLOPs of one forward pass over a step's generation batch (R rows of L = prompt + completion tokens, C of them
completion tokens that go through the output layer):
  F = 2 * N_body * R*L  +  2 * N_head * C  +  2 * layers * d_attn * R * L^2      (matmuls; causal attention counted half)
  N_body = layers * (2*h*d_attn + 2*h*d_kv + 3*h*i)   N_head = h * vocab   (norms, biases, rotary, softmax left out)
The training pass:  full fine-tuning  3F (forward, and a backward of twice its FLOPs: input and weight gradients)
                    LoRA              2F (forward, and the input gradients only; the r-16 adapters' FLOPs left out)
                    beta > 0          + F for the reference forward (a second model, or the base with adapters off)
MFU = those FLOPs / (training + reference seconds) / the best float32 matmul GFLOP/s of the training shapes measured by
the same process's libtorch before it loaded the model.
"""
import json
import sys

config = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
h, i, layers, vocab = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"], config["vocab_size"]
head_dim = h // config["num_attention_heads"]
d_attn, d_kv = config["num_attention_heads"] * head_dim, config["num_key_value_heads"] * head_dim
n_body = layers * (2 * h * d_attn + 2 * h * d_kv + 3 * h * i)
n_head = h * vocab


def training_flops(r):
    tokens, completion = r["tokens_per_step"], r["rows"] * r["mean_length"]
    length = tokens / r["rows"]
    forward = 2 * n_body * tokens + 2 * n_head * completion + 2 * layers * d_attn * r["rows"] * length**2
    return forward * (3 if r["mode"] == "full" else 2) + (forward if r["beta"] != 0 else 0)


def mfu(r):
    peak = max(r["matmul_gflops"].values()) * 1e9
    return training_flops(r) / (r["training"] + r["reference"]) / peak, peak


def split(r):
    other = r["step_time"] - r["generation"] - r["scoring"] - r["reference"] - r["training"]
    return f"{r['generation']:.1f}/{r['scoring']:.3f}/{r['reference']:.1f}/{r['training']:.1f}/{other:.1f}"


first = rows[0]
print(f"\nGRPO, {sys.argv[1].split('/')[-2]} (random weights, {(n_body + n_head) / 1e6:.0f} M matmul parameters), 4 prompts x 4 completions, "
      f"128 new tokens, dapo, {first['dtype']}, {first['threads']} threads; mean of {first['steps']} steps after {first['warmup']} warm-up")
print("split = generation / scoring / reference forward / training (policy forward + backward) / other (optimizer, batching), seconds")
print(f"{'mode':>4} {'beta':>4} | {'Ponder s/step':>13} {'split':>26} | {'TRL s/step':>10} {'split':>26} | {'speed-up':>8} | "
      f"{'peak RSS P / T':>15} | {'train MFU P / T':>15} | {'length P / T':>13}")
goals = []
for beta in sorted({r["beta"] for r in rows}):
    for mode in ("full", "lora"):
        p = next((r for r in rows if r["side"] == "ponder" and r["beta"] == beta and r["mode"] == mode), None)
        t = next((r for r in rows if r["side"] == "trl" and r["beta"] == beta and r["mode"] == mode), None)
        if not p or not t:
            continue
        (pm, pp), (tm, tp) = mfu(p), mfu(t)
        speed = t["step_time"] / p["step_time"]
        rss = f"{p['peak_rss_bytes'] / 2**30:.1f} / {t['peak_rss_bytes'] / 2**30:.1f} GiB"
        print(f"{mode:>4} {beta:>4} | {p['step_time']:>13.1f} {split(p):>26} | {t['step_time']:>10.1f} {split(t):>26} | {speed:>7.2f}x | "
              f"{rss:>15} | {pm:>6.0%} / {tm:>5.0%} | {p['mean_length']:>5.1f} / {t['mean_length']:.1f}")
        goals.append((mode, beta, speed, pm, pp, p["peak_rss_bytes"], t["peak_rss_bytes"]))
print("\nmatmul peak (float32 GFLOP/s at the training shapes, best shape): "
      + ", ".join(f"{r['side']} {r['mode']} {r['beta']}: {max(r['matmul_gflops'].values()):.0f}" for r in rows))
print("\ngoals (each case):")
for mode, beta, speed, pm, pp, prss, trss in goals:
    met = lambda ok: "met" if ok else "NOT met"
    print(f"  {mode} beta {beta}: >= 1.5x TRL per step: {speed:.2f}x {met(speed >= 1.5)}; "
          f"training MFU >= 60% of the measured peak ({pp / 1e9:.0f} GFLOP/s): {pm:.0%} {met(pm >= 0.6)}; "
          f"peak memory <= TRL's: {prss / 2**30:.1f} vs {trss / 2**30:.1f} GiB "
          f"{met(prss <= trss) if prss > 0 and trss > 0 else 'not measured (a side read no VmHWM)'}")
short = [f"{r['side']} {r['mode']} {r['beta']} ({r['mean_length']:.1f})" for r in rows if r["mean_length"] < 127.5]
if short:
    print("  NOTE: not every completion is 128 tokens long, so those cases do not compare like with like: " + ", ".join(short))
print("(this machine is shared and noisy: compare the ratios of one run; the TRL side uses torch "
      f"{next((r['versions']['torch'] for r in rows if 'versions' in r), '?')}, Ponder its bundled libtorch)")
