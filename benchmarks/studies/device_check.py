"""One prepared device run: the engine against TRL at a real shape, the sampler against ``generate``, and a
short ``--profile full`` run of one algorithm per family, printed as one table.

    python -m prefzoo.benchmarks.studies.device_check --tokenizer DIR [--out DIR]   # a GPU: ≤ 8 min on an H100
    python -m prefzoo.benchmarks.studies.device_check --cpu [--out DIR]             # tiny shapes on a CPU

On a lent GPU machine, from a checkout with ``../shared/gpu/make-carry.sh``'s carry folder::

    bash .device-carry/install.sh && export PYTHONPATH=/tmp/pkg:/tmp/site PYTHONUNBUFFERED=1 &&
    python3 -m prefzoo.benchmarks.studies.device_check --tokenizer .device-carry/smollm2-shape --out $OUT

Each part is a child process with its own time limit (``speed``, ``sampling_speed``, ``prefzoo bench``), so a
part that fails or runs out of time is a row that says so, and the table still prints. Full logs and the
parts' JSON go under ``--out``. The speed part runs both engines with and without gradient checkpointing
(each in a fresh process), then prefzoo's ``auto`` checkpointing under the 24 GiB cap, against TRL's fastest
setting whose peak fits the cap. The family part trains each algorithm ``--steps`` steps of the ``full``
profile on a random model of the sampling shape and estimates the ``full`` profile's 300 steps for every
registered algorithm of each family from the measured seconds per step and per evaluation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

GPU = {"speed_shape": "qwen2.5-1.5b", "tokens": (256, 256), "speed_steps": (8, 2), "batch": 8,
       "sampling_shape": "smollm2-135m", "sampling": ("128", "4", "48", "64,512"), "profile": "full", "steps": 8,
       "families": ("dpo", "online-dpo", "bt", "ppo"), "family_model": "shape"}
CPU = {"speed_shape": "proxy-151k", "tokens": (16, 16), "speed_steps": (1, 1), "batch": 2,
       "sampling_shape": "proxy-151k", "sampling": ("4", "1", "4", "4"), "profile": "smoke", "steps": 1,
       "families": ("dpo", "bt"), "family_model": "embedded"}
"""What each mode runs. On a CPU the family part trains the embedded SmolLM2 on its shipped pairs (a random
model of a shape would first sample its own pairs, minutes on a CPU) and two families only."""
CAP = "24GiB"


def run_part(name: str, argv: list[str], out: Path, timeout: float) -> tuple[bool, float]:
    """Run ``python -m <argv>`` with its output in ``out/<name>.log``: (finished in time and well, seconds)."""
    start = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        try:
            code = subprocess.run([sys.executable, "-m", *argv], stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = None
    return code == 0, time.perf_counter() - start


def speed_rows(plain: dict, capped: dict) -> list[list[str]]:
    rows = []
    for key, r in plain.items():
        engine, gc = key.split("/")
        rows.append([f"DPO step, {engine}", f"checkpointing {gc}", "out of memory" if r.get("oom") else
                     f"{r['tokens_per_s']:,.0f} tokens/s, {r['peak_bytes'] / 2**30:.1f} GiB"])
    trl = [r for k, r in plain.items() if k.startswith("TRL/") and not r.get("oom") and r["peak_bytes"] <= 24 * 2**30]
    ours = next(iter(capped.values()), {})
    if trl and ours and not ours.get("oom"):
        best = max(r["tokens_per_s"] for r in trl)
        rows.append([f"under a {CAP} cap", "prefzoo auto / TRL's fastest that fits",
                     f"{ours['tokens_per_s'] / best:.2f}× tokens/s (target ≥ 1.5×), "
                     f"prefzoo peak {ours['peak_bytes'] / 2**30:.1f} GiB"])
    return rows


def family_rows(results: Path, steps: int, full_steps: int = 300) -> list[list[str]]:
    from prefzoo.benchmarks.harness.results import result_files
    from prefzoo.benchmarks.suites.lm.documents import LMResult
    from prefzoo.registry import ALGORITHMS

    rows, total = [], 0.0
    counts = {}
    for cls in ALGORITHMS.load_all().values():
        counts[str(cls.family)] = counts.get(str(cls.family), 0) + 1
    docs = [doc for doc in (LMResult.parse(raw, path) for path, raw in result_files(results))
            if doc.family != "reference"]
    for doc in docs:
        evaluation = doc.eval.generated_tokens / max(doc.eval.sampling_tokens_per_s or 0, 1e-9)
        estimate = doc.train.wall_time_s / steps * full_steps + evaluation
        total += estimate * counts.get(doc.family, 1)
        rows.append([f"{doc.algorithm} ({doc.family})", f"{steps} steps of {doc.profile}",
                     f"{doc.train.wall_time_s:.1f} s training, ~{evaluation:.0f} s sampling for evaluation; "
                     f"{full_steps} steps ≈ {estimate / 60:.1f} min"])
    if rows:
        run = sorted({doc.family for doc in docs})
        rows.append([f"every algorithm of {', '.join(run)}", f"{full_steps} steps, one seed",
                     f"≈ {total / 60:.0f} min (target for all four families ≤ 15)"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="tiny shapes, for a CPU (what the tests run)")
    parser.add_argument("--tokenizer", default=None, help="folder of the tokenizer for the shapes "
                        "(default: the embedded model's)")
    parser.add_argument("--out", type=Path, default=Path("device-check"), help="folder for logs and JSON")
    parser.add_argument("--parts", default="speed,sampling,families")
    args = parser.parse_args(argv)
    plan, parts = (CPU if args.cpu else GPU), set(args.parts.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    tok = ["--tokenizer", args.tokenizer] if args.tokenizer else []
    status, rows = [], []
    if "speed" in parts:
        steps, warmup = plan["speed_steps"]
        common = ["prefzoo.benchmarks.studies.speed", "--shape", plan["speed_shape"], *tok, "--prompt-tokens",
                  str(plan["tokens"][0]), "--response-tokens", str(plan["tokens"][1]), "--batch", str(plan["batch"]),
                  "--steps", str(steps), "--warmup", str(warmup)]
        ok1, s1 = run_part("speed", [*common, "--gradient-checkpointing", "both", "--json", str(args.out / "speed.json")],
                           args.out, 300)
        capped = ["--max-memory", CAP] if not args.cpu else []
        ok2, s2 = run_part("speed-capped", [*common, "--gradient-checkpointing", "auto", "--engines", "prefzoo",
                                            *capped, "--json", str(args.out / "speed-capped.json")], args.out, 90)
        status += [("speed", ok1, s1), ("speed-capped", ok2, s2)]
        if ok1 and ok2:
            rows += speed_rows(json.loads((args.out / "speed.json").read_text()),
                               json.loads((args.out / "speed-capped.json").read_text()))
    if "sampling" in parts:
        prompts, per_prompt, new_tokens, batches = plan["sampling"]
        ok, s = run_part("sampling", ["prefzoo.benchmarks.studies.sampling_speed", "--shape", plan["sampling_shape"],
                                      *tok, "--prompts", prompts, "--samples-per-prompt", per_prompt, "--max-new-tokens",
                                      new_tokens, "--batch-sizes", batches, "--json", str(args.out / "sampling.json")],
                         args.out, 120)
        status.append(("sampling", ok, s))
        if ok:
            for r in json.loads((args.out / "sampling.json").read_text()):
                rows.append([f"sampling, {r['sampler']}", f"batch {r['batch_size']}",
                             f"{r['tokens_per_s']:,.0f} generated tokens/s, {r['speedup']:.1f}× the QLoRA model"])
    if "families" in parts:
        from prefzoo.algorithms.engine.models import cache_dir, materialise_embedded
        from prefzoo.benchmarks.studies.model_shapes import build_shape

        model = [] if plan["family_model"] == "embedded" else ["--model", str(build_shape(
            plan["sampling_shape"], Path(args.tokenizer) if args.tokenizer else materialise_embedded(),
            cache_dir() / "shapes"))]
        ok, s = run_part("families", ["prefzoo.cli", "bench", "--suite", "smol-sentiment", "--profile", plan["profile"],
                                      *model, "--algorithms", ",".join(plan["families"]),
                                      "--seeds", "1", "--train", f"steps={plan['steps']}", "--results",
                                      str(args.out / "results"), "--runs", str(args.out / "runs")], args.out, 240)
        status.append(("families", ok, s))
        rows += family_rows(args.out / "results", plan["steps"])
    import torch

    where = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"\ndevice check on {where}")
    print(" | ".join(f"{name}: {'ok' if ok else 'FAILED or timed out'} in {s:.0f} s" for name, ok, s in status))
    print("| measurement | setting | result |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(ok for _, ok, _ in status) else 1


if __name__ == "__main__":
    sys.exit(main())
