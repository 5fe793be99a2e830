#!/usr/bin/env python3
"""HF `tokenizers` encode throughput (encode_batch_fast) on text files (one document per line), best of N runs.
Thread count follows RAYON_RS_NUM_CPUS, set by run.sh (1 for the single-thread figure)."""
import os
import sys
import time

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
# encode_batch_fast skips offsets, which Ponder does not compute either: the fairer baseline when available.
encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
label = sys.argv[2]
for path in sys.argv[3:]:
    text = open(path, encoding="utf-8", newline="").read()  # keep \r\n as in the file
    lines = text.split("\n")
    mb = len(text.encode()) / 1e6
    best = float("inf")
    tokens = 0
    for _ in range(3):
        t0 = time.perf_counter()
        enc = encode(lines, add_special_tokens=False)
        best = min(best, time.perf_counter() - t0)
        tokens = sum(len(e.ids) for e in enc)
    print(f"hf {os.path.basename(path)} {label} {mb / best:.2f} MB/s {tokens} tokens")
