"""transformers side of Benchmarks/engine, and the maker of its random-weight model directories.

  python bench.py make DIR          write DIR/tiny and DIR/qwen2.5-0.5b-shape (random weights, float32)
  python bench.py run DIR [--quick] [--reps N] [--only MODEL/DTYPE/BATCH]
                                    time prefill and decode with transformers, one JSON object per line

Prefill is timed as generate() runs it: one forward over the prompts that computes logits for the last position
only (logits_to_keep=1), as Ponder's Generator does; decode is generate()'s time minus that prefill.
"""
import json
import sys
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

SHAPES = {
    "tiny": dict(vocab_size=1024, hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, tie_word_embeddings=True),
    # Qwen2.5-0.5B's shape (494M parameters) with random weights.
    "qwen2.5-0.5b-shape": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                               num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True),
}


def make(root):
    for name, shape in SHAPES.items():
        torch.manual_seed(0)
        config = Qwen2Config(**shape, max_position_embeddings=4096, rope_theta=1000000.0, eos_token_id=None)
        Qwen2ForCausalLM(config).save_pretrained(f"{root}/{name}")
        print("made", name, flush=True)


def run(root, quick, reps, only=None):
    for name in SHAPES:
        for dtype in (torch.bfloat16, torch.float32):
            if only and not only.startswith(f"{name}/{str(dtype).removeprefix('torch.')}/"):
                continue
            model = Qwen2ForCausalLM.from_pretrained(f"{root}/{name}", dtype=dtype).eval()
            big = name != "tiny"
            prompt, new = (64, 32) if big else (128, 64)
            for batch in (1, 32):
                if quick and (big or batch == 32):
                    continue
                if only and only != f"{name}/{str(dtype).removeprefix('torch.')}/{batch}":
                    continue
                ids = torch.randint(0, SHAPES[name]["vocab_size"], (batch, prompt), generator=torch.Generator().manual_seed(1))
                best_prefill, best_decode = float("inf"), float("inf")
                cpu_prefill, cpu_decode = float("inf"), float("inf")  # CPU seconds of the process, all threads
                with torch.inference_mode():
                    model(ids[:, :8])  # warm-up
                    for _ in range(reps or (1 if big else 5)):  # best of several repetitions, as the Swift side does
                        start, cpu = time.perf_counter(), time.process_time()
                        model(ids, use_cache=True, logits_to_keep=1)
                        prefill, prefill_cpu = time.perf_counter() - start, time.process_time() - cpu
                        start, cpu = time.perf_counter(), time.process_time()
                        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new,
                                       do_sample=False, pad_token_id=0)
                        total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
                        best_prefill = min(best_prefill, prefill)
                        best_decode = min(best_decode, max(total - prefill, 1e-9))
                        cpu_prefill = min(cpu_prefill, prefill_cpu)
                        cpu_decode = min(cpu_decode, max(total_cpu - prefill_cpu, 1e-9))
                prefill = best_prefill
                print(json.dumps({"model": name, "dtype": str(dtype).removeprefix("torch."), "batch": batch,
                                  "prompt": prompt, "new": new, "prefill_seconds": prefill,
                                  "decode_seconds": best_decode, "prefill_cpu_seconds": cpu_prefill,
                                  "decode_cpu_seconds": cpu_decode, "threads": torch.get_num_threads(),
                                  "prefill_tps": batch * prompt / prefill,
                                  "decode_tps": batch * (new - 1) / best_decode}), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else None
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    {"make": lambda: make(sys.argv[2]), "run": lambda: run(sys.argv[2], "--quick" in sys.argv, reps, only)}[sys.argv[1]]()
