"""PPO's cost next to DPO's on the same base and batch: peak memory and tokens/s of each loop.

Run: ``python -m prefzoo.benchmarks.studies.ppo_memory [--model smollm2-135m-instruct] [--steps 4] [--warmup 1] [--batch 8]``.
DPO: prefzoo's pairwise step on ``batch`` pairs (reference log-probs precomputed). PPO: iterations of
``batch`` prompts — generation, π_old / π_ref / critic / reward-model forwards, one PPO epoch — with
policy, critic and reward model as three adapters on the one nf4 base. Each loop runs in a fresh child
process (see ``speed``); memory is the CUDA allocator's peak, or on the CPU the peak resident memory
above the level before training. Tokens/s counts the tokens trained on per second of the loop's wall
time (for PPO that time includes generation and scoring).
"""

from __future__ import annotations

import argparse
import time

import torch

from prefzoo.algorithms.engine.memory import PeakMemory
from prefzoo.algorithms.engine.models import ModelSettings, add_adapter, load_base, load_tokenizer, resolve_model
from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.benchmarks.studies.speed import _seconds_per_step, run_each_in_a_fresh_process, speed_pairs, time_prefzoo
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings
from prefzoo.benchmarks.suites.smol_sentiment.data import make_prompts
from prefzoo.registry import ALGORITHMS


def time_ppo(settings: ModelSettings, rows, args, device, out_dir: str, checkpointing: bool = False) -> dict:
    from prefzoo.algorithms.engine.reward_model import RewardModel
    from prefzoo.algorithms.engine.rl import RLSettings, train_rl

    tokenizer = load_tokenizer(settings)
    model = add_adapter(load_base(settings, device), settings)
    reward_model = RewardModel.create(model, settings, adapter="reward")
    prompts, _ = make_prompts(DataSettings(train_prompts=args.batch * (args.warmup + args.steps), eval_prompts=0))
    stamps = []
    with PeakMemory(device) as memory:
        result = train_rl(ALGORITHMS.get("ppo")(), model, tokenizer, prompts, reward_model, settings,
                          TrainSettings(steps=args.warmup + args.steps, learning_rate=args.lr),
                          RLSettings(responses_per_iteration=args.batch, minibatch_size=args.batch),
                          progress=lambda step, _: stamps.append(time.perf_counter()))
    seconds = _seconds_per_step(stamps, args.warmup)
    return {"s_per_step": seconds, "tokens_per_s": result.train_tokens / len(stamps) / seconds,
            "peak_bytes": memory.peak}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=ModelSettings().model)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="pairs (DPO) or prompts (PPO) per step")
    parser.add_argument("--lr", type=float, default=5e-4)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = ModelSettings(model=args.model)
    resolve_model(settings.model)
    rows = speed_pairs(args.batch * (args.warmup + args.steps))
    args.prompt_tokens = 0  # time_prefzoo's short pairs
    results = run_each_in_a_fresh_process((("DPO step", time_prefzoo, False), ("PPO iteration", time_ppo, False)),
                                          settings, rows, args, device)
    print(f"\n{args.model}, nf4 QLoRA, batch {args.batch}, {args.steps} timed steps on {device} "
          f"({torch.get_num_threads()} threads)")
    print(f"{'loop':<16} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>10}")
    for name, r in results.items():
        print(f"{name:<16} {r['s_per_step']:>8.2f} {r['tokens_per_s']:>10.1f} {r['peak_bytes'] / 2**20:>10.0f}")


if __name__ == "__main__":
    main()
