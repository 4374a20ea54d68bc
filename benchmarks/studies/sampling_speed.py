"""Sampling throughput: generated tokens per second of prefzoo's sampler against transformers'
``generate`` with its defaults on the QLoRA model.

Run: ``python -m prefzoo.benchmarks.studies.sampling_speed [--model smollm2-135m-instruct | --shape smollm2-135m]
[--prompts 256] [--samples-per-prompt 4] [--max-new-tokens 48] [--batch-sizes 64,512]``.
Each sampler draws ``samples-per-prompt`` responses for each of the suite's review prompts at the
suite's sampling settings (temperature 0.7, top-p 0.9), after one untimed warm-up batch:

- ``QLoRA generate``: ``generate`` on the nf4 model with its adapter (what every sampling call did
  before the merged copy), at the first batch size;
- ``merged copy``: the same call on a compute-dtype copy with the adapter merged (``merged_copy``),
  at every batch size.

A random-init ``--shape`` never emits end-of-sequence, so every sample runs to ``--max-new-tokens``:
tokens/s is then a like-for-like rate, and times are upper bounds of a trained model's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from prefzoo.algorithms.engine.generation import sample_responses
from prefzoo.algorithms.engine.models import (ModelSettings, add_adapter, cache_dir, load_base, load_tokenizer,
                                              materialise_embedded)
from prefzoo.benchmarks.studies.model_shapes import build_shape
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
from prefzoo.benchmarks.suites.smol_sentiment.data import make_prompts


def timed_sampling(model, tokenizer, prompts, args, batch_size: int, merged: bool) -> dict:
    sample = dict(n_per_prompt=args.samples_per_prompt, max_new_tokens=args.max_new_tokens, batch_size=batch_size,
                  temperature=0.7, top_p=0.9, merged=merged)
    sample_responses(model, tokenizer, prompts[:max(1, batch_size // args.samples_per_prompt)], seed=1, **sample)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    samples = sample_responses(model, tokenizer, prompts, seed=0, **sample)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens = sum(len(s.completion_ids) for s in samples)
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
    return {"samples": len(samples), "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds,
            "peak_bytes": peak}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=ModelSettings().model)
    parser.add_argument("--shape", default=None, help="a random-init shape instead of --model (see model_shapes)")
    parser.add_argument("--tokenizer", default=None, help="folder of the tokenizer for --shape (default: the embedded model's)")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--samples-per-prompt", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-sizes", default="64,512")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows of the table here")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model_name = args.model
    if args.shape:
        model_name = str(build_shape(args.shape, Path(args.tokenizer) if args.tokenizer else materialise_embedded(),
                                     cache_dir() / "shapes"))
    settings = ModelSettings(model=model_name)
    tokenizer = load_tokenizer(settings)
    model = add_adapter(load_base(settings, device), settings)
    prompts, _ = make_prompts(DataSettings(train_prompts=args.prompts, eval_prompts=0))
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    runs = [("QLoRA generate", sizes[0], False)] + [("merged copy", b, True) for b in sizes]
    results = []
    for name, batch_size, merged in runs:
        r = timed_sampling(model, tokenizer, prompts, args, batch_size, merged)
        results.append((name, batch_size, r))
        print(f"  {name} batch {batch_size}: {r['tokens_per_s']:.0f} tokens/s", flush=True)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"\nSampling, {args.shape or args.model} nf4 + LoRA, {len(prompts)} prompts × {args.samples_per_prompt}, "
          f"≤ {args.max_new_tokens} new tokens, temperature 0.7, top-p 0.9, on {where}")
    print(f"{'sampler':<16} {'batch':>6} {'samples':>8} {'tokens':>8} {'seconds':>8} {'tokens/s':>9} {'peak MiB':>9} {'× QLoRA':>8}")
    base = results[0][2]["tokens_per_s"]
    for name, batch_size, r in results:
        print(f"{name:<16} {batch_size:>6} {r['samples']:>8} {r['tokens']:>8} {r['seconds']:>8.1f} "
              f"{r['tokens_per_s']:>9.0f} {r['peak_bytes'] / 2**20:>9.0f} {r['tokens_per_s'] / base:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps([{"sampler": name, "batch_size": b, **r, "speedup": r["tokens_per_s"] / base}
                                         for name, b, r in results], indent=1))


if __name__ == "__main__":
    main()
