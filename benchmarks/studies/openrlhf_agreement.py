"""REINFORCE++ and REINFORCE++-baseline against OpenRLHF's own code: advantages, loss and gradient.

Run: ``python -m prefzoo.benchmarks.studies.openrlhf_agreement --source DIR [--seeds 5]``, DIR the root of
an OpenRLHF checkout (OpenRLHF is not a dependency of prefzoo). Prints a Markdown table: over ``--seeds``
random rollouts (12 responses of up to 7 tokens, groups of 4, β = 0 and 0.05), max |Δ| on the response
tokens between

- ``reinforce-pp``'s advantages and ``RemoteExperienceMaker.compute_advantages_and_returns`` with the
  ``reinforce`` estimator, and ``reinforce-pp-baseline``'s with ``reinforce_baseline`` (k1 KL in the
  reward, γ = 1, the batch whitening);
- each one's loss and its gradient with respect to the per-token log-probs and ``PolicyLoss`` (ε = 0.2)
  with ``token_level_loss`` as the row aggregates: per response for ``reinforce-pp``, over the batch's
  tokens for ``reinforce-pp-baseline``.

OpenRLHF's modules import ray, deepspeed and vLLM at the top though these functions use none of them,
so the three source files (``models/utils.py``, ``models/loss.py``,
``trainer/ppo_utils/experience_maker.py``) are executed with those imports stubbed for the run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import torch

from prefzoo.algorithms.framework.base import Rollout
from prefzoo.benchmarks.studies.trl_rl_agreement import B, G, T, random_rollout
from prefzoo.registry import ALGORITHMS

NS = types.SimpleNamespace


@contextmanager
def openrlhf_modules(source: Path):
    """OpenRLHF's utils, loss and experience-maker modules, executed from ``source`` with their
    heavy imports stubbed; ``sys.modules`` is restored afterwards."""
    saved = dict(sys.modules)
    stubs = {"ray": {}, "deepspeed": {}, "openrlhf": {}, "openrlhf.models": {}, "openrlhf.trainer": {},
             "openrlhf.trainer.ppo_utils": {}, "openrlhf.trainer.ray": {}, "openrlhf.utils": {},
             "openrlhf.trainer.ppo_utils.experience": {"Experience": object},
             "openrlhf.trainer.ppo_utils.length_penalty": {"apply_length_penalties": lambda experiences, args: None},
             "openrlhf.trainer.ray.launcher": {"RayActorGroup": object},
             "openrlhf.utils.logging_utils": {"init_logger": logging.getLogger},
             "openrlhf.utils.seqlen_balancing": {"get_minimum_num_micro_batch_size": None,
                                                 "get_seqlen_balanced_partitions": None}}
    try:
        for name, attributes in stubs.items():
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
        loaded = {}
        for name, path in (("openrlhf.models.utils", "openrlhf/models/utils.py"),
                           ("openrlhf.models.loss", "openrlhf/models/loss.py"),
                           ("openrlhf.trainer.ppo_utils.experience_maker", "openrlhf/trainer/ppo_utils/experience_maker.py")):
            module = types.ModuleType(name)
            module.__package__ = name.rpartition(".")[0]
            sys.modules[name] = module
            exec(compile((source / path).read_text(), str(source / path), "exec"), module.__dict__)
            loaded[name.rpartition(".")[2]] = module
        yield loaded
    finally:
        sys.modules.clear()
        sys.modules.update(saved)


def gaps(modules, name: str, estimator: str, beta: float, seed: int) -> tuple[float, float, float]:
    """(max |Δ advantage|, |Δ loss|, max |Δ gradient|) of ``name`` against OpenRLHF's ``estimator``."""
    mask, old, ref, new, scores = random_rollout(seed)
    mask = mask.float()
    cls = ALGORITHMS.get(name)
    algorithm = cls(cls.Config(samples_per_prompt=G, kl_coef=beta))
    rollout = Rollout(old, ref, scores, mask, group_size=G, max_tokens=T)
    ours, returns = algorithm.advantages(rollout, algorithm.token_rewards(rollout))

    args = NS(rollout=NS(n_samples_per_prompt=G), reward=NS(clip_range=None),
              algo=NS(advantage=NS(estimator=estimator, gamma=1.0, lambd=1.0, no_std_norm=False)))
    maker_cls = modules["experience_maker"].RemoteExperienceMaker
    maker = maker_cls.__new__(maker_cls)
    maker.strategy, maker.advantage_estimator, maker.kl_ctl = NS(args=args), estimator, NS(value=beta)
    experience = NS(index=list(range(B)), rewards=scores.clone(), kl=(old - ref) * mask, action_mask=mask.bool(),
                    info={}, values=None)
    theirs = maker.compute_advantages_and_returns([experience])[0].advantages
    advantage_gap = float(((ours - theirs) * mask).abs().max())

    token_level = algorithm.config.loss_aggregation == "token"
    policy_loss = modules["loss"].PolicyLoss(clip_eps_low=algorithm.config.clip_range,
                                             clip_eps_high=algorithm.config.clip_range, token_level_loss=token_level)
    theirs_logps, ours_logps = new.clone().requires_grad_(True), new.clone().requires_grad_(True)
    their_loss = policy_loss(theirs_logps, old, ours, action_mask=mask)[0]
    their_grad, = torch.autograd.grad(their_loss, theirs_logps)
    our_loss = algorithm.loss(ours_logps, None, rollout, ours, returns).loss
    our_grad, = torch.autograd.grad(our_loss, ours_logps)
    return advantage_gap, abs(our_loss.item() - their_loss.item()), float((our_grad - their_grad).abs().max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the root of an OpenRLHF checkout")
    parser.add_argument("--seeds", type=int, default=5, help="random rollouts per row and β")
    args = parser.parse_args(argv)
    print(f"prefzoo against OpenRLHF's own code in {args.source}, max over {args.seeds} random rollouts × β ∈ "
          f"{{0, 0.05}}\n\n| prefzoo | OpenRLHF | max Δ advantage | max Δ loss | max Δ gradient |\n|---|---|---|---|---|")
    with openrlhf_modules(args.source) as modules:
        for name, estimator in (("reinforce-pp", "reinforce"), ("reinforce-pp-baseline", "reinforce_baseline")):
            rows = [gaps(modules, name, estimator, beta, seed) for seed in range(args.seeds) for beta in (0.0, 0.05)]
            aggregation = "token_level_loss" if ALGORITHMS.get(name).Config().loss_aggregation == "token" else "per sample"
            print(f"| {name} | {estimator}, PolicyLoss {aggregation} | "
                  + " | ".join(f"{max(r[i] for r in rows):.1e}" for i in range(3)) + " |")


if __name__ == "__main__":
    main()
