"""PyTorch (from Python) side of Benchmarks/torch: the same measurements as torch-bench, as JSON lines."""
import json
import sys
import time

import torch

quick = "--quick" in sys.argv
print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)


def timed(seconds, body, warmup=2, minimum_runs=3):
    for _ in range(warmup):
        body()
    runs, start = 0, time.perf_counter()
    while runs < minimum_runs or time.perf_counter() - start < seconds:
        body()
        runs += 1
    return (time.perf_counter() - start) / runs


a, b = torch.tensor([1.0]), torch.tensor([2.0])
iterations = 20_000 if quick else 300_000
for _ in range(3):
    start = time.perf_counter_ns()
    for _ in range(iterations):
        a + b
    print(json.dumps({"bench": "add_tiny", "python_ns": (time.perf_counter_ns() - start) / iterations}), flush=True)

for n in ([256, 1024] if quick else [1024, 4096]):
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
        seconds = timed(0.2 if quick else 2, lambda: torch.matmul(x, y))
        name = "float32" if dtype == torch.float32 else "bfloat16"
        print(json.dumps({"bench": "matmul", "n": n, "dtype": name, "gflops": 2 * n**3 / seconds / 1e9}), flush=True)
