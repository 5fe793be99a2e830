#!/usr/bin/env python3
"""Prints speed ratios and the agreement list of PonderVerifiers vs Math-Verify against the hand labels."""
import json, statistics, sys

corpus, ponder_path, mv_path = sys.argv[1:4]
cases = {c["id"]: c for c in (json.loads(l) for l in open(corpus) if l.strip())}
ponder = {r["id"]: r for r in (json.loads(l) for l in open(ponder_path) if l.strip())}
mv = {r["id"]: r for r in (json.loads(l) for l in open(mv_path) if l.strip())}
ids = sorted(set(ponder) & set(mv))


def stats(rs, key="seconds"):
    t = [rs[i][key] for i in ids]
    return len(t) / sum(t), statistics.median(t), statistics.mean(t)


for clock, suffix in [("process CPU time (not stretched by other processes: the fair measure here)", "cpu_seconds"),
                      ("wall-clock time (counts preemption by other processes on this loaded machine)", "seconds")]:
    key = lambda k: k if suffix == "seconds" else k.replace("seconds", suffix)
    rows = [("Ponder, no cache", ponder, key("seconds")), ("Ponder, gold cache warm", ponder, key("gold_warm_seconds")),
            ("Ponder, full cache warm", ponder, key("warm_seconds")), ("Math-Verify, cold", mv, key("seconds")),
            ("Math-Verify, warm", mv, key("warm_seconds"))]
    s = {label: stats(rs, k) for label, rs, k in rows}
    print(f"\n{clock}:")
    print(f"{'':26}{'cases/s':>10}{'median/case':>14}{'mean/case':>14}")
    for label, _, _ in rows:
        c, m, a = s[label]
        print(f"{label:26}{c:10.0f}{m * 1e6:12.1f}us{a * 1e6:12.1f}us")
    print("speed ratios (Math-Verify time / Ponder time; like against like first):")
    for p_label, m_label in [("Ponder, no cache", "Math-Verify, cold"), ("Ponder, gold cache warm", "Math-Verify, warm"),
                             ("Ponder, full cache warm", "Math-Verify, warm"), ("Ponder, no cache", "Math-Verify, warm")]:
        pc, pm, pa = s[p_label]
        mc, mm, ma = s[m_label]
        print(f"  {p_label:24} vs {m_label:18}: median x{mm / pm:<8.0f} mean x{ma / pa:<8.0f} throughput x{pc / mc:.0f}")
print("\nno cache = every Ponder call from scratch; gold cache = Ponder remembers what it read from the gold answer"
      " (labelled value, ratio parts, parse), as a GRPO group repeats it; full cache = also the verdict of a repeated"
      " (gold, answer) pair (extraction still runs). Math-Verify cold = its parse caches and sympy's cache cleared"
      " before each call; warm = the same call repeated with them primed.")

right = lambda r, c: (r["equivalent"] == (c["expected"] == "equivalent"))
p_ok = sum(right(ponder[i], cases[i]) for i in ids)
m_ok = sum(right(mv[i], cases[i]) for i in ids)
agree = [i for i in ids if ponder[i]["equivalent"] == mv[i]["equivalent"]]
print(f"\ncorrect vs hand labels: PonderVerifiers {p_ok}/{len(ids)}, Math-Verify {m_ok}/{len(ids)}")
print(f"agreement: {len(agree)}/{len(ids)} ({100 * len(agree) / len(ids):.1f}%); disagreements ({len(ids) - len(agree)}):")
tally = {}
for i in ids:
    if i in agree:
        continue
    c = cases[i]
    who = "Ponder" if right(ponder[i], c) else ("Math-Verify" if right(mv[i], c) else "neither")
    tally[who] = tally.get(who, 0) + 1
    # Why: the hand label decides who is right; Ponder's explanation says what it extracted and compared.
    print(f"  #{i:<4}[{c['category']}] gold={c['gold']!r} pred={c['prediction'][-70:]!r} label={c['expected']} "
          f"ponder={ponder[i]['outcome']} mv={'equivalent' if mv[i]['equivalent'] else 'notEquivalent'} -> right: {who}"
          f"\n        ponder: {ponder[i].get('explanation', '')[:160]}")
print("disagreements by who is right (hand labels): " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
