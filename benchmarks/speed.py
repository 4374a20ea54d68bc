"""Speed peer: prefzoo's DPO step against TRL's DPOTrainer on the same model, data, QLoRA config and batch.

Run: ``python -m prefzoo.benchmarks.speed [--model smollm2-135m-instruct] [--steps 6] [--warmup 2] [--batch 8]``.
Both engines train a fresh LoRA adapter on the same nf4 base settings, with the reference log-probs
precomputed (prefzoo's cache; TRL's ``precompute_ref_log_probs=True``), gradient checkpointing off, AdamW,
the same learning rate, and the same preference pairs. Steps after ``--warmup`` are timed. Printed:
seconds per step, tokens per second (non-padding tokens of the policy's forward), peak memory (CUDA:
``max_memory_allocated``; CPU: peak resident memory above the level before training, sampled every
10 ms) and the ratio prefzoo / TRL.

Each engine runs in a fresh child process started the same way: on the CPU the allocator keeps freed
memory, so a second engine in the same process would look lighter than it is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import torch

from prefzoo.algorithms.engine.data import TokenizationSettings, tokenize_pairs
from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, load_base, load_tokenizer, resolve_model
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.pairwise import TrainSettings, make_accelerator, train_pairwise
from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
from prefzoo.benchmarks.smol_sentiment import DataSettings, make_prompts
from prefzoo.registry import ALGORITHMS

GOOD = ("I loved it, the staff were friendly and everything was great.", "A wonderful place, I will be back soon.")
BAD = ("It was dirty and the staff were rude.", "Terrible service, I would not go again.")


def speed_pairs(n: int) -> list[dict]:
    """Conversational pairs with fixed responses (the timing does not need generated text)."""
    prompts, _ = make_prompts(DataSettings(train_prompts=n, eval_prompts=0))
    return [{"prompt": p, "chosen": [{"role": "assistant", "content": GOOD[i % 2]}],
             "rejected": [{"role": "assistant", "content": BAD[i % 2]}]} for i, p in enumerate(prompts)]


def _seconds_per_step(stamps: list[float], warmup: int) -> float:
    """Mean duration of the steps after ``warmup``, from the end-of-step time stamps."""
    timed = stamps[warmup:]
    if warmup:
        return (timed[-1] - stamps[warmup - 1]) / len(timed)
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def time_prefzoo(settings: ModelSettings, rows, args, device, out_dir: str) -> dict:
    tokenizer = load_tokenizer(settings)
    model = add_adapter(load_base(settings, device), settings)
    data = tokenize_pairs(rows, tokenizer, TokenizationSettings())
    data = with_reference(data, compute_reference_logps(model, data, tokenizer.pad_token_id))
    stamps = []
    train = TrainSettings(steps=args.warmup + args.steps, batch_size=args.batch, micro_batch_size=args.batch,
                          learning_rate=args.lr)
    with PeakMemory(device) as memory:
        result = train_pairwise(ALGORITHMS.get("dpo")(), model, data, tokenizer.pad_token_id, train,
                                make_accelerator(train), progress=lambda step, _: stamps.append(time.perf_counter()))
    per_token = result.train_tokens / len(stamps)  # every step sees `batch` pairs; tokens vary a little
    seconds = _seconds_per_step(stamps, args.warmup)
    del model
    return {"s_per_step": seconds, "tokens_per_s": per_token / seconds, "peak_bytes": memory.peak}


def time_trl(settings: ModelSettings, rows, args, device, out_dir: str) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    tokenizer = load_tokenizer(settings)
    model = load_base(settings, device)
    stamps = []

    class Clock(TrainerCallback):
        def on_step_end(self, *_, **__):
            if device.type == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    config = DPOConfig(output_dir=out_dir, per_device_train_batch_size=args.batch, max_steps=args.warmup + args.steps,
                       learning_rate=args.lr, lr_scheduler_type="constant", beta=0.1, loss_type=["sigmoid"],
                       precompute_ref_log_probs=True, gradient_checkpointing=False, use_cpu=device.type == "cpu",
                       bf16=settings.dtype(device) == torch.bfloat16, report_to=[], logging_steps=1, save_strategy="no",
                       max_grad_norm=1.0, dataloader_drop_last=True, seed=0)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.target_modules, task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora, callbacks=[Clock()])
    with PeakMemory(device) as memory:
        trainer.train()
    seconds = _seconds_per_step(stamps, args.warmup)
    tokens = trainer._total_train_tokens / len(stamps)
    return {"s_per_step": seconds, "tokens_per_s": tokens / seconds, "peak_bytes": memory.peak}


def _run(job, settings, rows, args, device, out_dir):
    return job(settings, rows, args, device, out_dir)


def run_each_in_a_fresh_process(jobs, settings: ModelSettings, rows, args, device) -> dict[str, dict]:
    """``{name: job(...)}`` for every (name, job), each job in its own spawned child process."""
    import tempfile

    spawn = multiprocessing.get_context("spawn")
    results = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for name, job in jobs:
            with spawn.Pool(1) as pool:
                results[name] = pool.apply(_run, (job, settings, rows, args, device, out_dir))
    return results


def print_table(title: str, first_column: str, results: dict[str, dict]) -> None:
    print(title)
    print(f"{first_column:<16} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>10}")
    for name, r in results.items():
        print(f"{name:<16} {r['s_per_step']:>8.2f} {r['tokens_per_s']:>10.1f} {r['peak_bytes'] / 2**20:>10.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=ModelSettings().model)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="preference pairs per step")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--no-quantize", action="store_true", help="LoRA on a 16/32-bit base instead of nf4")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = ModelSettings(model=args.model, quantize=not args.no_quantize)
    resolve_model(settings.model)  # convert the embedded model before anything is timed
    rows = speed_pairs(args.batch * (args.warmup + args.steps))
    results = run_each_in_a_fresh_process((("prefzoo", time_prefzoo), ("TRL DPOTrainer", time_trl)),
                                          settings, rows, args, device)
    print_table(f"\nDPO step, {args.model}, {'nf4 QLoRA' if settings.quantize else 'LoRA'}, {args.batch} pairs/step, "
                f"{args.steps} timed steps on {device} ({torch.get_num_threads()} threads)", "engine", results)
    ours, peer = results["prefzoo"], results["TRL DPOTrainer"]
    print(f"ratio prefzoo/TRL: tokens/s {ours['tokens_per_s'] / peer['tokens_per_s']:.2f}, "
          f"peak memory {ours['peak_bytes'] / max(peer['peak_bytes'], 1):.2f}")


if __name__ == "__main__":
    main()
