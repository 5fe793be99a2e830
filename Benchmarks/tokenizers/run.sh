#!/usr/bin/env bash
# Encode throughput of PonderTokenizers against HF `tokenizers`, measured in one run on this machine.
# Usage (from anywhere): Benchmarks/tokenizers/run.sh
# Builds tokenizer-bench in release, installs `tokenizers` into a throwaway venv in /tmp, and measures MB/s
# on the fixture corpus and a 10 MB synthetic text, single-threaded and batched on all cores, for the
# GPT-2, Llama-3 and Qwen2 fixture tokenizers. Prints Ponder/HF ratios (> 1 means Ponder is faster).
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=Benchmarks/tokenizers
FIX=Tests/PonderTokenizersTests/Fixtures
WORK=$(mktemp -d /tmp/ponder-tokenizer-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

swift build -c release --product tokenizer-bench >&2
BENCH=$(swift build -c release --show-bin-path)/tokenizer-bench

python3 -m venv "$WORK/venv" >&2
"$WORK/venv/bin/pip" install --quiet tokenizers >&2
"$WORK/venv/bin/python" -c "import tokenizers; print('tokenizers', tokenizers.__version__)"

python3 "$HERE/make_synthetic.py" "$FIX/corpus.txt" "$WORK/synthetic-10MB.txt" 10
FILES=("$FIX/corpus.txt" "$WORK/synthetic-10MB.txt")
echo "cores: $(nproc)"

for family in gpt2 llama3 qwen2; do
    TOK="$FIX/$family/tokenizer.json"
    echo "== $family"
    "$BENCH" throughput --tokenizer "$TOK" "${FILES[@]}" | tee "$WORK/ponder.txt"
    RAYON_RS_NUM_CPUS=1 "$WORK/venv/bin/python" "$HERE/hf_bench.py" "$TOK" single "${FILES[@]}" | tee "$WORK/hf-single.txt"
    "$WORK/venv/bin/python" "$HERE/hf_bench.py" "$TOK" batch "${FILES[@]}" | tee "$WORK/hf-batch.txt"
    python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
ponder = {}
for line in open(f"{work}/ponder.txt"):
    f = line.split()
    ponder[f[1]] = (float(f[f.index("single") + 1]), float(f[f.index("batch") + 1]), int(f[f.index("tokens") - 1]))
for mode in ("single", "batch"):
    for line in open(f"{work}/hf-{mode}.txt"):
        f = line.split()
        name, hf, hf_tokens = f[1], float(f[3]), int(f[5])
        p = ponder[name][0 if mode == "single" else 1]
        same = "same token count" if hf_tokens == ponder[name][2] else f"TOKEN COUNTS DIFFER ({ponder[name][2]} vs {hf_tokens})"
        print(f"ratio {name} {mode}: ponder {p:.2f} MB/s / hf {hf:.2f} MB/s = {p / hf:.2f}x ({same})")
PY
done
