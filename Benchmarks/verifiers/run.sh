#!/usr/bin/env bash
# One-command benchmark: PonderVerifiers (release build) vs Hugging Face Math-Verify on the
# hand-labelled corpus. Run from anywhere; paths are relative to the repository root.
# Math-Verify is installed into a throwaway virtual environment under /tmp.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${CORPUS:-Tests/PonderVerifiersTests/Fixtures/cases.jsonl}
VENV=${VENV:-/tmp/ponder-mathverify-venv-090}
OUT=$(mktemp -d /tmp/ponder-verifier-bench.XXXXXX)

echo "== building verifier-bench (release)"
swift build -c release -j "${JOBS:-2}" --product verifier-bench >/dev/null
BIN=$(swift build -c release --show-bin-path)/verifier-bench

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV and installing math-verify"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "math-verify==${MATH_VERIFY_VERSION:-0.9.0}" "antlr4-python3-runtime==4.13.2"
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("math-verify", m.version("math-verify"))'

echo "== PonderVerifiers"
"$BIN" "$CORPUS" --repeat "${REPEAT_SWIFT:-50}" > "$OUT/ponder.jsonl"
echo "== Math-Verify"
"$VENV/bin/python" Benchmarks/verifiers/mathverify_bench.py "$CORPUS" --repeat "${REPEAT_PY:-3}" > "$OUT/mathverify.jsonl"
echo
# The summary is committed (Benchmarks/verifiers/results.txt); numbers from a loaded machine are noisy. Both sides
# record process CPU time beside the wall clock; on a loaded machine compare the CPU times.
{ echo "PonderVerifiers vs math-verify $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("math-verify"))') on $CORPUS ($(date -u +%F))"
  python3 Benchmarks/verifiers/compare.py "$CORPUS" "$OUT/ponder.jsonl" "$OUT/mathverify.jsonl"; } | tee Benchmarks/verifiers/results.txt
echo "(raw results in $OUT)"
