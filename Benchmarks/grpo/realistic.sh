#!/usr/bin/env bash
# GRPO at a realistic size, Ponder against TRL in one run:   Benchmarks/grpo/run --realistic [STEPS [WARMUP]]
#
# The Qwen2.5-0.5B shape (random weights, 494 M parameters, made by Benchmarks/engine/bench.py) with the tiny
# fixture tokenizer on both sides; 4 prompts x 4 completions, exactly 128 new tokens (TRL: min_new_tokens; Ponder's
# sampler reaches the end token with probability about 1/151936 per token on random weights, and the table prints
# both mean lengths), loss dapo, beta 0 and 0.04, full fine-tuning and LoRA (r 16, alpha 32, q/k/v/o; TRL through
# peft), float32 on both sides (TRL's CPU default; float32 weights and Adam state are what a CPU fine-tune keeps, and
# it leaves no autocast-vs-bf16-weights difference between the sides), the same thread count (THREADS, default
# nproc), 4-row micro-batches on both sides (one optimizer step per generation batch), no gradient checkpointing.
# WARMUP steps (default 2) are run and dropped, then STEPS (default 2) are timed.
#
# Every run is its own process, one at a time (never in parallel: a full fine-tune with Adam holds about 10 GB);
# peak memory is that process's VmHWM. Each process first times a float32 matmul of the training shapes with its own
# libtorch: the peak the training pass's model-FLOPs utilisation is measured against.
# BETAS="0 0.04" and MODES="full lora" select cases. TRL lives in PONDER_GRPO_VENV (default /tmp/ponder-grpo-venv),
# built here with pinned versions when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
steps="${1:-2}"
warmup="${2:-2}"
threads="${THREADS:-$(nproc)}"
venv="${PONDER_GRPO_VENV:-/tmp/ponder-grpo-venv}"
models="${PONDER_BENCH_MODELS:-/tmp/ponder-bench-models}"
model="${PONDER_GRPO_REALISTIC_MODEL:-$models/qwen2.5-0.5b-shape}"  # another Qwen2 directory: a smoke test of the pipeline
scripts/bootstrap --quiet
swift build -c release --product grpo-bench >&2
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import trl, peft, transformers, torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --no-deps "${TORCH_PEER:-torch==2.13.0+cpu}"
  "$venv/bin/pip" install --quiet typing_extensions sympy networkx jinja2 fsspec filelock numpy psutil datasets \
    transformers==5.24.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0
fi
[ -f "$model/model.safetensors" ] || "$venv/bin/python" Benchmarks/engine/bench.py make "$models"
cp Tests/PonderModelsTests/Fixtures/tiny-qwen2/tokenizer.json Tests/PonderModelsTests/Fixtures/tiny-qwen2/tokenizer_config.json "$model/"

# Waits (up to 10 minutes) for NEED GiB of available memory: the machine is shared.
wait_for_memory() {
  local need=$1 tries=0
  while [ "$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)" -lt "$need" ]; do
    [ $tries -ge 20 ] && { echo "realistic: less than $need GiB available after 10 minutes; not starting a run" >&2; free -g >&2; exit 1; }
    tries=$((tries + 1)); sleep 30
  done
}

out=$(mktemp -d)
export OMP_NUM_THREADS="$threads"
for beta in ${BETAS:-0 0.04}; do
  for mode in ${MODES:-full lora}; do
    need=$([ "$mode" = full ] && echo 14 || echo 8)
    wait_for_memory "$need"
    echo "ponder $mode beta $beta ($(date -u +%H:%M:%S))" >&2
    .build/release/grpo-bench --realistic "$model" "$beta" "$mode" "$steps" "$warmup" "$threads" 2>"$out/ponder-$mode-$beta.log" \
      | tee -a "$out/results.jsonl" >&2 || { tail -20 "$out/ponder-$mode-$beta.log" >&2; exit 1; }
    wait_for_memory "$need"
    echo "trl $mode beta $beta ($(date -u +%H:%M:%S))" >&2
    "$venv/bin/python" Benchmarks/grpo/trl_bench.py realistic "$model" "$beta" "$mode" "$steps" "$warmup" "$threads" \
      2>"$out/trl-$mode-$beta.log" | grep '"side"' | tee -a "$out/results.jsonl" >&2 || { tail -20 "$out/trl-$mode-$beta.log" >&2; exit 1; }
  done
done
python3 Benchmarks/grpo/realistic_table.py "$model/config.json" "$out/results.jsonl"
echo "(raw results: $out/results.jsonl)"
