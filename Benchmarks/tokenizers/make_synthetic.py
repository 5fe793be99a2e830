#!/usr/bin/env python3
"""Writes a deterministic synthetic text of about N MB, one document per line, from the fixture corpus:
shuffled corpus lines, random words and numbers, so caches see realistic repetition but not one text repeated."""
import random
import sys

corpus_path, out_path, megabytes = sys.argv[1], sys.argv[2], float(sys.argv[3])
rng = random.Random(7)
lines = [l for l in open(corpus_path, encoding="utf-8", newline="").read().split("\n") if l]
words = sorted({w for l in lines for w in l.split()})
target = int(megabytes * 1_000_000)
out, size = [], 0
while size < target:
    r = rng.random()
    if r < 0.6:
        doc = " ".join(rng.choice(lines) for _ in range(rng.randint(1, 4)))
    elif r < 0.9:
        doc = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
    else:
        doc = " ".join(str(rng.randint(0, 10 ** rng.randint(1, 9))) + rng.choice(["+", "-", "*", "=", ",", "."])
                       for _ in range(rng.randint(3, 20)))
    out.append(doc)
    size += len(doc.encode()) + 1
with open(out_path, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
