"""Demonstrations for reward extraction by inverse RL (``extracts_policy`` learners, Joselowitz et al.
2024): a trained policy's samples against the reference's, on the same train prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefzoo.algorithms.engine.generation import sample_everywhere

if TYPE_CHECKING:
    from prefzoo.algorithms.framework.config import AlgorithmConfig
    from prefzoo.algorithms.engine.cell import RunContext

ADAPTER = "extracted-policy"


def policy_demonstrations(ctx: RunContext, policy: str, config: AlgorithmConfig, rows: list[int]) -> list[dict]:
    """One pair per train row index in ``rows``: (prompt, o⁺ a sample of the trained adapter of
    ``policy`` at ``config`` and this cell's seed, o⁻ a sample of the reference), tokenised as the
    family's loop reads pairs (``chosen_ids`` the policy's). Both sides come from the same sampler and length limit, so nothing
    but the policies' difference tells them apart; the train pairs' own responses are not used, as
    they were sampled under the data's settings, not the evaluation's."""
    if ctx.policy_adapter is None:
        raise ValueError(f"reward extraction needs trained policies; this suite has none to give ({policy!r})")
    folder = ctx.policy_adapter(policy, config)
    model, seed = ctx.model, ctx.train.seed
    prompts = [ctx.train_prompts[i] for i in rows]
    previous = model.active_adapter
    model.load_adapter(str(folder), adapter_name=ADAPTER)
    try:
        model.set_adapter(ADAPTER)
        kwargs = dict(n_per_prompt=1, seed=30_000 + seed, **ctx.sampling)
        # split over a data-parallel run's processes (each gets every sample back), as evaluation is
        ours = sample_everywhere(model, ctx.tokenizer, prompts, **kwargs)
        theirs = sample_everywhere(model, ctx.tokenizer, prompts, reference=True, **kwargs)
    finally:
        model.set_adapter(previous)
        model.delete_adapter(ADAPTER)
    limit = ctx.max_completion_length
    out = []
    for i, a, b in zip(rows, ours, theirs):
        prompt_ids = ctx.train_data[i]["prompt_ids"]
        out.append({"prompt_ids": prompt_ids, "chosen_ids": a.completion_ids[:limit],
                    "rejected_ids": b.completion_ids[:limit]})
    ctx.log(f"{policy}: {len(out)} demonstrations sampled from its policy and from the reference")
    return out
