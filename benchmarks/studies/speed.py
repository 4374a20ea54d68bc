"""Speed peer: prefzoo's DPO step against TRL's DPOTrainer on the same model, data, QLoRA config and batch.

Run: ``python -m prefzoo.benchmarks.studies.speed [--model smollm2-135m-instruct | --shape qwen2.5-1.5b]
[--prompt-tokens 256 --response-tokens 256] [--gradient-checkpointing off|on|both] [--max-memory 24GiB]``.
Both engines train a fresh LoRA adapter on the same nf4 base settings, with the reference log-probs
precomputed (prefzoo's cache; TRL's ``precompute_ref_log_probs=True``), AdamW, the same learning rate,
the same preference pairs and the same checkpointing setting; bf16 autocast on CUDA in both. Steps after
``--warmup`` are timed. Printed per engine and checkpointing setting: seconds per step, tokens per second
(non-padding tokens of the policy's forward), peak memory (CUDA: ``max_memory_allocated``; CPU: peak
resident memory above the level before training, sampled every 10 ms), the ratios prefzoo / TRL at
each setting, and each engine's fastest setting that fits ``--max-memory`` (a hard allocator cap on
CUDA; a run over it is reported as out of memory).

``--shape`` builds a real architecture's shape with random weights from a config in code
(``model_shapes``; weights cannot be downloaded here) with the tokenizer of ``--tokenizer`` (default:
the embedded SmolLM2's). ``--prompt-tokens``/``--response-tokens`` make plain-text pairs of about those
lengths; without them the pairs are short conversations (a review prompt and a one-sentence answer).

Each run is a fresh child process started the same way: on the CPU the allocator keeps freed
memory, so a second engine in the same process would look lighter than it is.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import torch

from prefzoo.algorithms.engine.checkpointing import cap_device_memory, parse_bytes
from prefzoo.algorithms.engine.data import TokenizationSettings, tokenize_pairs
from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import (ModelSettings, add_adapter, cache_dir, load_base, load_tokenizer,
                                              materialise_embedded, resolve_model)
from prefzoo.algorithms.engine.pairwise import TrainSettings, make_accelerator, train_pairwise
from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
from prefzoo.benchmarks.studies.model_shapes import build_shape, text_of_tokens
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
from prefzoo.benchmarks.suites.smol_sentiment.data import make_prompts
from prefzoo.registry import ALGORITHMS

GOOD = ("I loved it, the staff were friendly and everything was great.", "A wonderful place, I will be back soon.")
BAD = ("It was dirty and the staff were rude.", "Terrible service, I would not go again.")


def speed_pairs(n: int) -> list[dict]:
    """Conversational pairs with fixed responses (the timing does not need generated text)."""
    prompts, _ = make_prompts(DataSettings(train_prompts=n, eval_prompts=0))
    return [{"prompt": p, "chosen": [{"role": "assistant", "content": GOOD[i % 2]}],
             "rejected": [{"role": "assistant", "content": BAD[i % 2]}]} for i, p in enumerate(prompts)]


def long_pairs(tokenizer, n: int, prompt_tokens: int, response_tokens: int) -> list[dict]:
    """Plain-text pairs of about ``prompt_tokens`` + ``response_tokens`` tokens each."""
    return [{"prompt": text_of_tokens(tokenizer, prompt_tokens, i),
             "chosen": " " + text_of_tokens(tokenizer, response_tokens, i + 1),
             "rejected": " " + text_of_tokens(tokenizer, response_tokens, i + 2)} for i in range(n)]


def _seconds_per_step(stamps: list[float], warmup: int) -> float:
    """Mean duration of the steps after ``warmup``, from the end-of-step time stamps."""
    timed = stamps[warmup:]
    if warmup:
        return (timed[-1] - stamps[warmup - 1]) / len(timed)
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def _tokenization(args) -> TokenizationSettings:
    if not args.prompt_tokens:
        return TokenizationSettings()
    return TokenizationSettings(max_prompt_length=args.prompt_tokens + 8, max_completion_length=args.response_tokens + 8)


def time_prefzoo(settings: ModelSettings, rows, args, device, out_dir: str, checkpointing: bool | str) -> dict:
    tokenizer = load_tokenizer(settings)
    model = add_adapter(load_base(settings, device), settings)
    data = tokenize_pairs(rows, tokenizer, _tokenization(args))
    data = with_reference(data, compute_reference_logps(model, data, tokenizer.pad_token_id, batch_size=args.batch))
    stamps = []
    train = TrainSettings(steps=args.warmup + args.steps, batch_size=args.batch, micro_batch_size=args.batch,
                          learning_rate=args.lr, mixed_precision="auto")
    with PeakMemory(device) as memory:
        result = train_pairwise(ALGORITHMS.get("dpo")(), model, data, tokenizer.pad_token_id, train,
                                make_accelerator(train), progress=lambda step, _: stamps.append(time.perf_counter()),
                                gradient_checkpointing=checkpointing, memory_budget=_budget(args, device))
    per_token = result.train_tokens / len(stamps)  # every step sees `batch` pairs; tokens vary a little
    seconds = _seconds_per_step(stamps, args.warmup)
    return {"s_per_step": seconds, "tokens_per_s": per_token / seconds, "peak_bytes": memory.peak,
            "checkpointing": result.gradient_checkpointing}


def _budget(args, device) -> int | None:
    """The memory cap in force in this child process (set by ``_run``; setting it again changes nothing)."""
    return cap_device_memory(device, parse_bytes(args.max_memory) if getattr(args, "max_memory", None) else None)


def _gc_name(gc: bool | str, result: dict | None = None) -> str:
    name = {True: "on", False: "off"}.get(gc, gc)
    if gc == "auto" and result and result.get("checkpointing") is not None:
        name += f" ({'on' if result['checkpointing'] else 'off'})"
    return name


def time_trl(settings: ModelSettings, rows, args, device, out_dir: str, checkpointing: bool) -> dict:
    if checkpointing == "auto":
        raise ValueError("TRL has no automatic checkpointing: --gradient-checkpointing auto takes --engines prefzoo")
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
                       precompute_ref_log_probs=True, gradient_checkpointing=checkpointing,
                       use_cpu=device.type == "cpu", bf16=settings.dtype(device) == torch.bfloat16, report_to=[],
                       logging_steps=1, save_strategy="no", max_grad_norm=1.0, dataloader_drop_last=True, seed=0,
                       max_length=None if args.prompt_tokens else 1024)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.target_modules, task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora, callbacks=[Clock()])
    with PeakMemory(device) as memory:
        trainer.train()
    seconds = _seconds_per_step(stamps, args.warmup)
    tokens = trainer._total_train_tokens / len(stamps)
    return {"s_per_step": seconds, "tokens_per_s": tokens / seconds, "peak_bytes": memory.peak}


ENGINES = {"prefzoo": time_prefzoo, "TRL": time_trl}


def _run(job, settings, rows, args, device, out_dir, checkpointing):
    cap_device_memory(device, parse_bytes(args.max_memory) if getattr(args, "max_memory", None) else None)
    try:
        return job(settings, rows, args, device, out_dir, checkpointing)
    except torch.OutOfMemoryError:
        return {"oom": True}


def run_each_in_a_fresh_process(jobs, settings: ModelSettings, rows, args, device) -> dict:
    """``{key: job(settings, rows, args, device, out_dir, checkpointing)}`` for every (key, job,
    checkpointing) of ``jobs``, each in its own spawned child process, printed as it ends."""
    import tempfile

    spawn = multiprocessing.get_context("spawn")
    results = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for key, job, checkpointing in jobs:
            with spawn.Pool(1) as pool:
                r = results[key] = pool.apply(_run, (job, settings, rows, args, device, out_dir, checkpointing))
            print(f"  {key}: " + ("out of memory" if r.get("oom") else
                                  f"{r['s_per_step']:.3f} s/step, {r['tokens_per_s']:.0f} tokens/s, "
                                  f"{r['peak_bytes'] / 2**20:.0f} MiB"), flush=True)
    return results


def print_tables(title: str, results: dict[tuple, dict], cap: str | None) -> None:
    print(title)
    print(f"{'engine':<10} {'checkpointing':<14} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>10}")
    for (engine, gc), r in results.items():
        if r.get("oom"):
            print(f"{engine:<10} {_gc_name(gc):<14} {'out of memory':>30}")
        else:
            print(f"{engine:<10} {_gc_name(gc, r):<14} {r['s_per_step']:>8.3f} {r['tokens_per_s']:>10.0f} "
                  f"{r['peak_bytes'] / 2**20:>10.0f}")
    for gc in sorted({gc for _, gc in results}, key=str):
        ours, peer = results.get(("prefzoo", gc)), results.get(("TRL", gc))
        if ours and peer and not ours.get("oom") and not peer.get("oom"):
            print(f"checkpointing {_gc_name(gc)}: prefzoo/TRL tokens/s "
                  f"{ours['tokens_per_s'] / peer['tokens_per_s']:.2f}, peak memory "
                  f"{ours['peak_bytes'] / max(peer['peak_bytes'], 1):.2f}")
    best = {}
    for (engine, gc), r in results.items():
        if not r.get("oom") and (engine not in best or r["tokens_per_s"] > best[engine][1]["tokens_per_s"]):
            best[engine] = (gc, r)
    if len(best) == 2:
        (g1, ours), (g2, peer) = best["prefzoo"], best["TRL"]
        print(f"fastest setting that fits{' ' + cap if cap else ''}: prefzoo (checkpointing {_gc_name(g1, ours)}) "
              f"/ TRL (checkpointing {_gc_name(g2)}): tokens/s {ours['tokens_per_s'] / peer['tokens_per_s']:.2f}, "
              f"peak memory {ours['peak_bytes'] / max(peer['peak_bytes'], 1):.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=ModelSettings().model)
    parser.add_argument("--shape", default=None, help="a random-init architecture shape instead of --model: "
                        "smollm2-135m, qwen2.5-1.5b or proxy-151k")
    parser.add_argument("--tokenizer", default=None, help="folder of the tokenizer for --shape (default: the embedded model's)")
    parser.add_argument("--prompt-tokens", type=int, default=0)
    parser.add_argument("--response-tokens", type=int, default=0)
    parser.add_argument("--gradient-checkpointing", choices=("off", "on", "both", "auto"), default="off",
                        help="auto: prefzoo's choice from --max-memory (prefzoo only)")
    parser.add_argument("--max-memory", default=None, help="CUDA: cap the allocator, e.g. 24GiB")
    parser.add_argument("--engines", default="prefzoo,TRL")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="preference pairs per step")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--no-quantize", action="store_true", help="LoRA on a 16/32-bit base instead of nf4")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here, keyed engine/checkpointing")
    args = parser.parse_args(argv)
    if bool(args.prompt_tokens) != bool(args.response_tokens):
        parser.error("--prompt-tokens and --response-tokens go together")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = args.model
    if args.shape:
        tokenizer_dir = Path(args.tokenizer) if args.tokenizer else materialise_embedded()
        model = str(build_shape(args.shape, tokenizer_dir, cache_dir() / "shapes"))
    settings = ModelSettings(model=model, quantize=not args.no_quantize)
    resolve_model(settings.model)  # convert the embedded model before anything is timed
    n = args.batch * (args.warmup + args.steps)
    rows = long_pairs(load_tokenizer(settings), n, args.prompt_tokens, args.response_tokens) if args.prompt_tokens \
        else speed_pairs(n)
    settings_gc = {"off": (False,), "on": (True,), "both": (False, True), "auto": ("auto",)}[args.gradient_checkpointing]
    jobs = [(e.strip(), gc) for gc in settings_gc for e in args.engines.split(",")]
    for engine, _ in jobs:
        if engine not in ENGINES:
            parser.error(f"--engines: unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    results = run_each_in_a_fresh_process([((e, gc), ENGINES[e], gc) for e, gc in jobs], settings, rows, args, device)
    name = args.shape or args.model
    lengths = f"{args.prompt_tokens} + {args.response_tokens} tokens" if args.prompt_tokens else "short"
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print_tables(f"\nDPO step, {name}, {'nf4 QLoRA' if settings.quantize else 'LoRA'}, {args.batch} pairs/step "
                 f"({lengths}), {args.steps} timed steps on {where}", results, args.max_memory)
    if args.json:
        args.json.write_text(json.dumps({f"{e}/{_gc_name(gc)}": r for (e, gc), r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
