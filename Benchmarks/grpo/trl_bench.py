"""TRL side of Benchmarks/grpo: GRPOTrainer step time on the tiny model bench.py's `make` wrote.

  python trl_bench.py make DIR      a random Qwen2 (hidden 64, 2 layers, 4 heads / 2 KV heads) with the fixture tokenizer
  python trl_bench.py run DIR BETA  time GRPO steps (8 prompts x 4 generations, <= 64 new tokens, dapo); JSON lines
"""
import json
import shutil
import sys
import tempfile
import time

import torch
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


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    make(sys.argv[2]) if sys.argv[1] == "make" else run(sys.argv[2], float(sys.argv[3]))
