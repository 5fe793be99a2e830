"""TRL side of Benchmarks/grpo: GRPOTrainer step time on the tiny model bench.py's `make` wrote.

  python trl_bench.py make DIR      a random Qwen2 (hidden 64, 2 layers, 4 heads / 2 KV heads) with the fixture tokenizer
  python trl_bench.py run DIR BETA  time GRPO steps (8 prompts x 4 generations, <= 64 new tokens, dapo); JSON lines
  python trl_bench.py realistic DIR BETA full|lora STEPS WARMUP THREADS
                                    the realistic case (Benchmarks/grpo/run --realistic): 4 prompts x 4 generations,
                                    exactly 128 new tokens, dapo, float32, full fine-tuning or LoRA (peft) r 16 on
                                    q/k/v/o; seconds per step split into generation / scoring / reference / training,
                                    this process's peak resident memory (VmHWM) and its libtorch's matmul peak at the
                                    training shapes; one JSON line
"""
import json
import shutil
import sys
import tempfile
import time

import torch
import transformers
import trl
from datasets import Dataset
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

STEPS, WARMUP = 12, 2


def make(root):
    torch.manual_seed(0)
    fixture = "Tests/PonderModelsTests/Fixtures/tiny-qwen2"
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{fixture}/tokenizer.json")
    config = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True, eos_token_id=0)
    Qwen2ForCausalLM(config).save_pretrained(root)
    shutil.copy(f"{fixture}/tokenizer.json", f"{root}/tokenizer.json")
    # One end token on both sides (TRL stops at the tokenizer's eos_token).
    with open(f"{root}/tokenizer_config.json", "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}, f)


def digits(completions, **kwargs):
    return [sum(ch.isdigit() for ch in c) / max(1, len(c)) for c in completions]


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self.last = [], None

    def on_step_begin(self, args, state, control, **kw):
        self.last = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self.last)


def run(root, beta):
    model = AutoModelForCausalLM.from_pretrained(root)
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{root}/tokenizer.json", pad_token="<|endoftext|>", eos_token="<|endoftext|>")
    prompts = [f"Question {i}: what is {i} + {3 * i}?" for i in range(64)]
    with tempfile.TemporaryDirectory() as tmp:
        args = GRPOConfig(output_dir=tmp, per_device_train_batch_size=32, num_generations=4, max_completion_length=64,
                          loss_type="dapo", beta=beta, learning_rate=1e-4, max_steps=STEPS, report_to=[], use_cpu=True,
                          logging_steps=1, save_strategy="no", temperature=1.0, seed=0)
        timer = StepTimer()
        trainer = GRPOTrainer(model=model, reward_funcs=[digits], args=args, train_dataset=Dataset.from_dict({"prompt": prompts}),
                              processing_class=tok, callbacks=[timer])
        trainer.train()
    times = timer.times[WARMUP:]
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    print(json.dumps({"side": "trl", "beta": beta, "step_time": sum(times) / len(times), "steps": len(times),
                      "mean_length": sum(lengths) / len(lengths)}), flush=True)


def peak_resident_bytes():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))


def matmul_gflops(m, k, n):
    """GFLOP/s of x (m x k) @ w (k x n) in float32: best of 3 after a warm-up (as the Swift side measures)."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    x @ w
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        x @ w
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


class PhaseTimer:
    """Wraps the trainer's phases: sampling (_generate), rewards (_calculate_rewards), the reference (and old)
    log-probabilities inside _generate_and_score_completions, and the policy's forward and backward (training_step
    less the generation batch it prepares)."""

    def __init__(self, trainer):
        self.totals = {"generation": 0.0, "scoring": 0.0, "reference": 0.0, "prepare": 0.0, "training_step": 0.0}
        self.inside_prepare = False
        for name, key in (("_generate", "generation"), ("_calculate_rewards", "scoring"), ("training_step", "training_step")):
            self.wrap(trainer, name, key)
        original = trainer._generate_and_score_completions

        def prepare(*a, **kw):
            self.inside_prepare = True
            try:
                return self.timed("prepare", original, *a, **kw)
            finally:
                self.inside_prepare = False

        trainer._generate_and_score_completions = prepare
        logps = trainer._get_per_token_logps_and_entropies

        def per_token_logps(*a, **kw):
            return self.timed("reference", logps, *a, **kw) if self.inside_prepare else logps(*a, **kw)

        trainer._get_per_token_logps_and_entropies = per_token_logps

    def wrap(self, trainer, name, key):
        original = getattr(trainer, name)
        setattr(trainer, name, lambda *a, **kw: self.timed(key, original, *a, **kw))

    def timed(self, key, f, *a, **kw):
        start = time.perf_counter()
        try:
            return f(*a, **kw)
        finally:
            self.totals[key] += time.perf_counter() - start

    def snapshot(self):
        return dict(self.totals)


class StepSnapshots(TrainerCallback):
    def __init__(self, phases):
        self.phases, self.rows, self.start = phases, [], None

    def on_step_begin(self, args, state, control, **kw):
        self.start, self.before = time.perf_counter(), self.phases.snapshot()

    def on_step_end(self, args, state, control, **kw):
        after = self.phases.snapshot()
        row = {k: after[k] - self.before[k] for k in after}
        row["step_time"] = time.perf_counter() - self.start
        self.rows.append(row)


def realistic(root, beta, mode, steps, warmup, threads):
    torch.set_num_threads(threads)
    rows = 4 * 150
    peaks = {"qo_896x896": matmul_gflops(rows, 896, 896), "up_896x4864": matmul_gflops(rows, 896, 4864),
             "down_4864x896": matmul_gflops(rows, 4864, 896), "lm_head_896x151936": matmul_gflops(4 * 129, 896, 151936)}
    with open(f"{root}/tokenizer_config.json") as f:
        special = json.load(f)
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{root}/tokenizer.json", pad_token=special["pad_token"], eos_token=special["eos_token"])
    model = AutoModelForCausalLM.from_pretrained(root, dtype=torch.float32)
    prompts = [f"Question {i}: what is {i} + {3 * i}?" for i in range(64)]
    peft_config = None
    if mode == "lora":
        from peft import LoraConfig
        peft_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                                 task_type="CAUSAL_LM")
    with tempfile.TemporaryDirectory() as tmp:
        # One optimizer step per generation batch of 16 completions, in 4 micro-batches of 4 rows (Ponder's
        # --chunk-rows 4); no gradient checkpointing (Ponder keeps activations too); exactly 128 new tokens.
        args = GRPOConfig(output_dir=tmp, per_device_train_batch_size=4, gradient_accumulation_steps=4, num_generations=4,
                          max_completion_length=128, generation_kwargs={"min_new_tokens": 128}, loss_type="dapo", beta=beta,
                          learning_rate=1e-6, lr_scheduler_type="constant", max_steps=steps + warmup, report_to=[], use_cpu=True,
                          logging_steps=1, save_strategy="no", temperature=1.0, seed=0, gradient_checkpointing=False,
                          bf16=False, fp16=False)
        trainer = GRPOTrainer(model=model, reward_funcs=[digits], args=args, train_dataset=Dataset.from_dict({"prompt": prompts}),
                              processing_class=tok, peft_config=peft_config)
        phases = PhaseTimer(trainer)
        snapshots = StepSnapshots(phases)
        trainer.add_callback(snapshots)
        trainer.train()
    timed = snapshots.rows[warmup:]
    mean = lambda k: sum(r[k] for r in timed) / len(timed)
    logs = [h for h in trainer.state.log_history if "num_tokens" in h]
    tokens = (logs[-1]["num_tokens"] - (logs[warmup - 1]["num_tokens"] if warmup else 0)) / len(timed)
    lengths = [h["completions/mean_length"] for h in logs[warmup:]]
    print(json.dumps({
        "side": "trl", "case": "realistic", "mode": mode, "beta": beta, "threads": torch.get_num_threads(), "steps": len(timed),
        "warmup": warmup, "step_time": mean("step_time"), "generation": mean("generation"), "scoring": mean("scoring"),
        "reference": mean("reference"), "training": mean("training_step") - mean("prepare"), "mean_length": sum(lengths) / len(lengths),
        "tokens_per_step": tokens, "rows": 16, "peak_rss_bytes": peak_resident_bytes(), "matmul_gflops": peaks, "dtype": "float32",
        "versions": {"torch": torch.__version__, "trl": trl.__version__, "transformers": transformers.__version__,
                     "peft": __import__("peft").__version__},
    }), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "realistic":
        realistic(sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
    else:
        run(sys.argv[2], float(sys.argv[3]))
