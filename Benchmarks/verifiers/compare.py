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


pc, pm, pa = stats(ponder)
print(f"{'':22}{'cases/s':>10}{'median/case':>14}{'mean/case':>14}")
print(f"{'PonderVerifiers':22}{pc:10.0f}{pm * 1e6:12.1f}us{pa * 1e6:12.1f}us")
for label, key in [("Math-Verify (cold)", "seconds"), ("Math-Verify (warm)", "warm_seconds")]:
    mc, mm, ma = stats(mv, key)
    print(f"{label:22}{mc:10.0f}{mm * 1e6:12.1f}us{ma * 1e6:12.1f}us"
          f"   -> Ponder faster: throughput x{pc / mc:.0f}, median x{mm / pm:.0f}, mean x{ma / pa:.0f}")
print("cold = Math-Verify's parse caches and sympy's cache cleared before each call (new text, as in RL);"
      " warm = the same call repeated")

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
