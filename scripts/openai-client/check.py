"""Exercises `ponder serve` with the official `openai` client (run by scripts/openai-client-check).

Each check asserts what the OpenAI API promises (shapes, types, exception classes) and what Ponder adds
(reasoning_content, usage.completion_tokens_details.reasoning_tokens, per-request strategies).
Prints one line per check and a closing 'N passed, N failed' line; exits 1 when any check fails.
"""
import argparse
import json
import os
import signal
import threading
import time
import urllib.request

import openai
from openai import OpenAI

MODEL = "ponder-tiny-base"
QUESTION = "Think in <think></think>, answer in <answer></answer>.\nCompute 12+7-3.\n"

parser = argparse.ArgumentParser()
parser.add_argument("--base-url", required=True)
parser.add_argument("--server-pid", type=int, required=True)
args = parser.parse_args()
key = os.environ["PONDER_CHECK_KEY"]
client = OpenAI(base_url=args.base_url, api_key=key, max_retries=0, timeout=120)
results = []


def check(name):
    def run(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok   {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            results.append((name, e))
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        return fn
    return run


def expect_raises(cls, fn, status=None):
    try:
        fn()
    except cls as e:
        if status is not None:
            assert e.status_code == status, f"expected status {status}, got {e.status_code}"
        body = e.body if isinstance(e.body, dict) else {}
        assert "message" in body and "type" in body, f"error body not in OpenAI's shape: {e.body!r}"
        return e
    raise AssertionError(f"expected {cls.__name__}")


def counts(u):
    """Usage without cached_tokens (the served engine's prefix cache may serve a repeated request's prompt)."""
    return (u.prompt_tokens, u.completion_tokens, u.total_tokens, u.completion_tokens_details.reasoning_tokens)


def messages(text=QUESTION):
    return [{"role": "user", "content": text}]


@check("models.list names the served model")
def _():
    ids = [m.id for m in client.models.list().data]
    assert ids == [MODEL], ids


@check("plain chat completion: shape, finish_reason, usage with reasoning_tokens")
def _():
    r = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=48, temperature=0)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    c = r.choices[0]
    assert c.finish_reason in ("stop", "length")
    assert isinstance(c.message.content, str) and c.message.role == "assistant"
    assert "</think>" not in c.message.content
    u = r.usage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert 0 <= u.completion_tokens_details.reasoning_tokens <= u.completion_tokens


@check("reasoning_content and reasoning apart from content (greedy chat == raw text completion)")
def _():
    # The template renders QUESTION and opens <think>: the raw completion starts inside the reasoning.
    r = client.chat.completions.create(
        model=MODEL, messages=messages("Compute 12+7-3."), max_tokens=48, temperature=0,
        extra_body={"chat_template_kwargs": {"add_instruction": True}})
    m = r.choices[0].message
    reasoning = getattr(m, "reasoning_content", None)
    assert reasoning is not None, "the template opens <think>: expected reasoning_content"
    assert reasoning == getattr(m, "reasoning", None)
    raw = client.completions.create(model=MODEL, prompt=QUESTION + "<think>", max_tokens=48, temperature=0).choices[0].text
    rebuilt = reasoning + "</think>" + m.content
    assert rebuilt == raw, (rebuilt, raw)
    assert "<answer>" in m.content and "<answer>" not in reasoning
    assert r.usage.completion_tokens_details.reasoning_tokens > 0


@check("streaming chat: chunks, delta.reasoning_content, include_usage, same text as non-streamed")
def _():
    whole = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=40, temperature=0)
    stream = client.chat.completions.create(
        model=MODEL, messages=messages(), max_tokens=40, temperature=0, stream=True, stream_options={"include_usage": True})
    content, reasoning, finishes, usage = "", "", [], None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
            continue
        d = chunk.choices[0].delta
        content += d.content or ""
        reasoning += getattr(d, "reasoning_content", None) or ""
        if chunk.choices[0].finish_reason:
            finishes.append(chunk.choices[0].finish_reason)
    assert content == whole.choices[0].message.content, (content, whole.choices[0].message.content)
    assert reasoning == (getattr(whole.choices[0].message, "reasoning_content", None) or "")
    assert finishes == [whole.choices[0].finish_reason]
    assert usage is not None and usage.prompt_tokens == whole.usage.prompt_tokens


@check("streaming text completion")
def _():
    text = "".join(c.choices[0].text for c in client.completions.create(
        model=MODEL, prompt=QUESTION, max_tokens=24, temperature=0, stream=True) if c.choices)
    whole = client.completions.create(model=MODEL, prompt=QUESTION, max_tokens=24, temperature=0).choices[0].text
    assert text == whole, (text, whole)


@check("n = 3 gives three choices")
def _():
    r = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=16, n=3, seed=7)
    assert sorted(c.index for c in r.choices) == [0, 1, 2]


@check("logprobs: one per completion token, all <= 0")
def _():
    r = client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=16, temperature=0, logprobs=True)
    lp = r.choices[0].logprobs.content
    assert len(lp) == r.usage.completion_tokens and all(t.logprob <= 0 and isinstance(t.token, str) for t in lp)
    t = client.completions.create(model=MODEL, prompt=QUESTION, max_tokens=16, temperature=0, logprobs=0)
    assert len(t.choices[0].logprobs.token_logprobs) == t.usage.completion_tokens


@check("top_logprobs=3: three alternatives per token, most likely first, streamed the same")
def _():
    kwargs = dict(model=MODEL, messages=messages(), max_tokens=16, temperature=0.8, seed=4, logprobs=True, top_logprobs=3)
    r = client.chat.completions.create(**kwargs)
    lp = r.choices[0].logprobs.content
    assert len(lp) == r.usage.completion_tokens
    for t in lp:
        assert len(t.top_logprobs) == 3, t
        values = [a.logprob for a in t.top_logprobs]
        assert values == sorted(values, reverse=True), values
        same = [a.logprob for a in t.top_logprobs if a.token == t.token]
        assert not same or t.logprob in same, (t.token, t.logprob, t.top_logprobs)
    streamed, usage = [], None
    for c in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
        if c.usage is not None:
            usage = c.usage
        for ch in c.choices:
            if ch.logprobs is not None and ch.logprobs.content:
                streamed += ch.logprobs.content
    # The repeat may reuse the first request's prompt from the prefix cache, which rounds differently in the last
    # bits: same tokens, log-probabilities equal to 1e-4.
    assert [t.token for t in streamed] == [t.token for t in lp]
    for s, w in zip(streamed, lp):
        assert abs(s.logprob - w.logprob) < 1e-4 and [a.token for a in s.top_logprobs] == [a.token for a in w.top_logprobs]
        assert all(abs(a.logprob - b.logprob) < 1e-4 for a, b in zip(s.top_logprobs, w.top_logprobs))
    assert counts(usage) == counts(r.usage), (usage, r.usage)


@check("completions logprobs=2: legacy shape with two alternatives (+ the sampled token) per token")
def _():
    t = client.completions.create(model=MODEL, prompt=QUESTION, max_tokens=16, temperature=1, seed=5, logprobs=2)
    lp = t.choices[0].logprobs
    n = t.usage.completion_tokens
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n
    for token, value, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert len(top) in (2, 3) and top[token] == value, (token, value, top)
    assert lp.text_offset == [sum(len(x) for x in lp.tokens[:i]) for i in range(n)]


@check("streamed usage equals the whole response's (exact engine counts)")
def _():
    kwargs = dict(model=MODEL, messages=messages(), max_tokens=24, n=2, seed=6)
    whole = client.chat.completions.create(**kwargs)
    usage = [c.usage for c in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
             if c.usage is not None]
    assert len(usage) == 1 and counts(usage[0]) == counts(whole.usage), (usage, whole.usage)


@check("chat_template_kwargs reach the template (enable_thinking=False closes the pre-filled <think>)")
def _():
    plain = client.chat.completions.create(model=MODEL, messages=messages("Compute 1+2."), max_tokens=2)
    off = client.chat.completions.create(
        model=MODEL, messages=messages("Compute 1+2."), max_tokens=2, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert off.usage.prompt_tokens == plain.usage.prompt_tokens + 1


@check("reasoning_effort is accepted (low / medium / high)")
def _():
    for effort in ("low", "medium", "high"):
        client.chat.completions.create(model=MODEL, messages=messages(), max_tokens=8, reasoning_effort=effort)


@check("per-request strategy: ponder body field and model-name prefix")
def _():
    r = client.chat.completions.create(
        model=MODEL, messages=messages(), max_tokens=24, seed=1, extra_body={"ponder": {"strategy": "self-consistency", "n": 4}})
    p = r.model_extra["ponder"]
    assert p["strategy"] == "self-consistency" and p["candidates"] == [4], p
    assert r.usage.completion_tokens >= p["generated_tokens"]
    r = client.chat.completions.create(model=f"best-of-n-3/{MODEL}", messages=messages(), max_tokens=24, seed=2)
    p = r.model_extra["ponder"]
    # The default scorer is vote (answer agreement over the finished samples): nothing spent on scoring.
    assert p["strategy"] == "best-of-n" and p["candidates"] == [3] and p["scoring_tokens"] == 0, p
    assert r.model == f"best-of-n-3/{MODEL}"
    # The judge scorer on request: its calls are counted as scoring tokens.
    r = client.chat.completions.create(
        model=MODEL, messages=messages(), max_tokens=24, seed=3,
        extra_body={"ponder": {"strategy": "best-of-n", "n": 2, "scorer": "judge"}})
    p = r.model_extra["ponder"]
    assert p["strategy"] == "best-of-n" and p["candidates"] == [2] and p["scoring_tokens"] > 0, p


@check("BadRequestError for invalid fields (naming the field)")
def _():
    e = expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(model=MODEL, messages=messages(), n=-1), 400)
    assert e.body.get("param") == "n", e.body
    e = expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=messages(), extra_body={"max_tokens": "ten"}), 400)
    assert e.body.get("param") == "max_tokens", e.body
    e = expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=messages(), extra_body={"not_a_field": 1}), 400)
    assert e.body.get("param") == "not_a_field", e.body
    expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=messages(), extra_body={"ponder": {"strategy": "best-of-n", "scorer": "oracle"}}), 400)
    expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "robot", "content": "x"}]), 400)
    e = expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=messages(), logprobs=True, top_logprobs=21), 400)
    assert e.body.get("param") == "top_logprobs", e.body
    e = expect_raises(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=messages(), top_logprobs=2), 400)
    assert e.body.get("param") == "top_logprobs", e.body
    e = expect_raises(openai.BadRequestError, lambda: client.completions.create(model=MODEL, prompt=QUESTION, logprobs=21), 400)
    assert e.body.get("param") == "logprobs", e.body


@check("AuthenticationError for a wrong or missing key")
def _():
    bad = OpenAI(base_url=args.base_url, api_key="wrong", max_retries=0)
    expect_raises(openai.AuthenticationError, lambda: bad.models.list(), 401)
    req = urllib.request.Request(args.base_url + "/models")
    try:
        urllib.request.urlopen(req)
        raise AssertionError("no key accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 401


@check("NotFoundError for an unknown model or route")
def _():
    expect_raises(openai.NotFoundError, lambda: client.chat.completions.create(model="gpt-4o", messages=messages()), 404)
    expect_raises(openai.NotFoundError, lambda: client.models.retrieve("nope"), 404)
    expect_raises(openai.NotFoundError, lambda: client.get("/nothing", cast_to=object), 404)


@check("APIStatusError 413 for an oversized body")
def _():
    e = expect_raises(openai.APIStatusError, lambda: client.completions.create(model=MODEL, prompt="x" * (2 << 20)), 413)
    assert e.body.get("code") == "request_too_large", e.body


def queue_depth():
    with urllib.request.urlopen(args.base_url.removesuffix("/v1") + "/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith("ponder_queue_depth "):
                return float(line.split()[1])
    return 0.0


def long_requests(count, out):
    def one(i):
        try:
            # min_tokens (vLLM's field) holds off the end token: every sample runs its 200 tokens, so the request is
            # still in flight when the next check's request arrives, however fast the decode steps are.
            out[i] = client.completions.create(
                model=MODEL, prompt=QUESTION, max_tokens=200, n=16, temperature=1, seed=i, extra_body={"min_tokens": 200})
        except Exception as e:  # noqa: BLE001
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while queue_depth() < count and time.time() < deadline:
        time.sleep(0.005)
    return threads


@check("RateLimitError (429) when the queue is full")
def _():
    out = [None, None]
    threads = long_requests(2, out)  # the server admits at most 2
    e = expect_raises(openai.RateLimitError, lambda: client.completions.create(model=MODEL, prompt="x", max_tokens=1), 429)
    assert e.body.get("code") == "queue_full"
    for t in threads:
        t.join()
    assert all(isinstance(o, openai.types.Completion) for o in out), out


@check("graceful shutdown: 503 (InternalServerError) for new requests, the request in flight completes")
def _():
    out = [None]
    threads = long_requests(1, out)
    os.kill(args.server_pid, signal.SIGTERM)
    time.sleep(0.05)
    e = expect_raises(openai.InternalServerError, lambda: client.completions.create(model=MODEL, prompt="x", max_tokens=1), 503)
    assert e.body.get("code") == "shutting_down"
    threads[0].join()
    assert isinstance(out[0], openai.types.Completion) and len(out[0].choices) == 16, out[0]
    assert out[0].usage.completion_tokens == 16 * 200, out[0].usage
    assert all(c.finish_reason == "length" for c in out[0].choices), [c.finish_reason for c in out[0].choices]


failed = [n for n, e in results if e is not None]
print(f"openai {openai.__version__}: {len(results) - len(failed)} passed, {len(failed)} failed")
raise SystemExit(1 if failed else 0)
