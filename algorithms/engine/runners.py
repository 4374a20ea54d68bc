"""One runner per family: what a suite hands an algorithm to, and the one typed result it gets back.

A suite builds a :class:`RunContext` (the shared model, data, budget and labeller of its run) and calls
:func:`run_family`; the runner of the algorithm's family runs that family's loop and returns a
:class:`CellResult` with the training record and its costs, which :meth:`CellResult.document` writes
into the result document in one place (both in ``cell``). No suite asks which algorithm it runs: what differs is
declared by the algorithm or its family (``trains_policy``, ``has_implicit_reward``,
``reward_learner``, ``samples_per_prompt``, ``uses_critic``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from prefzoo.algorithms.engine.cell import NEEDS_GOLD, CellResult, Costs, RunContext  # noqa: F401 (re-exported)
from prefzoo.algorithms.engine.online import train_online
from prefzoo.algorithms.engine.oracles import BradleyTerryOracle
from prefzoo.algorithms.engine.pairwise import train_pairwise
from prefzoo.algorithms.engine.rl import train_rl
from prefzoo.algorithms.framework.base import Algorithm, Family, RewardModelChoice

def _read_rows(ctx: RunContext) -> list[dict]:
    return list(ctx.train_data.select(ctx.rows_read()))


def run_pairwise(algorithm, ctx: RunContext) -> CellResult:
    auto = ctx.model_settings.gradient_checkpointing == "auto"
    result = train_pairwise(algorithm, ctx.model, ctx.train_data, ctx.pad_id, ctx.train, ctx.accelerator,
                            run_name=ctx.run_name, gradient_checkpointing="auto" if auto else None,
                            memory_budget=ctx.memory_budget)
    read = _read_rows(ctx)
    # The pairs were sampled and labelled before training: their cost, counted the online way. An unpaired
    # row is one response and one label.
    if read and "completion_ids" in read[0]:
        return CellResult(result, Costs(sum(len(r["completion_ids"]) for r in read), len(read), len(read), 0))
    tokens = sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in read)
    return CellResult(result, Costs(tokens, 2 * len(read), len(read), len(read)))


def run_online(algorithm, ctx: RunContext) -> CellResult:
    """The online loop on the train prompts, labelled by the gold reward through Bradley–Terry at the
    data's label temperature (the labeller of the offline pairs)."""
    oracle = BradleyTerryOracle(ctx.gold, ctx.label_temperature, seed=ctx.train.seed)
    result = train_online(algorithm, ctx.model, ctx.tokenizer, ctx.train_prompts, oracle, ctx.train, ctx.online,
                          ctx.accelerator, run_name=ctx.run_name)
    return CellResult(result, Costs(result.generated_tokens, result.responses_sampled, result.oracle_queries,
                                    result.dataset_sizes[-1]))


def label_budget(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(labelled, unlabelled): a seeded random ``fraction`` of ``rows`` (at least one) keeps its labels;
    the rest, with chosen and rejected in random order, does not."""
    from prefzoo.algorithms.engine.self_evolved import hide_labels

    if fraction >= 1:
        return rows, []
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    k = max(1, round(fraction * len(rows)))
    return [rows[i] for i in order[:k]], hide_labels([rows[i] for i in order[k:]], seed)


def _learn_reward_model(learner, ctx: RunContext, rows: list[dict], adapter: str):
    """A reward model (its own adapter and head on the shared base) trained by ``learner`` on the
    labelled share of ``rows`` (``ctx.reward_labels``) for ``reward_epochs`` epochs; a learner that
    ``uses_unlabelled`` also gets the rest without labels. Returns the model, the training record and
    what the learner adds to the result (the self-labelling rounds)."""
    from prefzoo.algorithms.engine.reward_model import RewardModel, train_reward_model
    from prefzoo.algorithms.engine.self_evolved import train_self_evolved

    epochs = ctx.reward_epochs
    if learner.extracts_policy:  # demonstrations, not labels: no label budget applies
        from prefzoo.algorithms.engine.extraction import policy_demonstrations

        labelled, unlabelled = policy_demonstrations(ctx, learner.config.policy, learner.config.policy_settings(),
                                                     ctx.rows_read()), []
        extras: dict[str, Any] = {"labelled_pairs": 0, "demonstrations": len(labelled), "unlabelled_pairs": 0}
    else:
        labelled, unlabelled = label_budget(rows, ctx.reward_labels, ctx.train.seed)
        extras = {"labelled_pairs": len(labelled), "unlabelled_pairs": len(unlabelled)}
    if learner.uses_principles:  # one pass of fresh principle draws per reward epoch, each trained once
        from prefzoo.algorithms.engine.principles import relabelled_pairs

        labelled = relabelled_pairs(learner, labelled, _principles(learner, ctx), ctx.tokenizer, epochs,
                                    ctx.train.seed)
        extras["relabelled_examples"], epochs = len(labelled), 1
    reward_model = RewardModel.create(ctx.model, ctx.model_settings, adapter=adapter, seed=ctx.train.seed)
    try:
        if learner.uses_unlabelled:
            result, extras["self_evolution"] = train_self_evolved(
                learner, reward_model, labelled, unlabelled, ctx.pad_id, ctx.train, ctx.reward_epochs,
                ctx.accelerator, ctx.log)
        else:
            result = train_reward_model(learner, reward_model, labelled, ctx.pad_id, ctx.train, epochs,
                                        ctx.accelerator)
    except BaseException:
        ctx.model.delete_adapter(adapter)
        raise
    return reward_model, result, extras


def _principles(learner, ctx: RunContext) -> dict[str, Any]:
    if not ctx.principles:
        raise ValueError(f"{learner.name} is trained on pairs labelled under principles, which this suite does not "
                         "declare (smol-two-factor does)")
    return ctx.principles


def _principle_prefix(learner, principle: str, ctx: RunContext) -> list[int] | None:
    """The token ids of the principles an instructable learner is asked about (None for a learner that
    takes none); an unknown principle, or one given to such a learner, is refused."""
    if not learner.uses_principles:
        if principle:
            raise ValueError(f"reward_principle = {principle!r} asks the reward model about principles, but "
                             f"{learner.name!r} does not take any (salmon-rm does)")
        return None
    from prefzoo.algorithms.engine.principles import prefix_ids, principle_names, principle_text

    principles = _principles(learner, ctx)
    return prefix_ids(ctx.tokenizer, principle_text(principles, principle_names(principle, principles)))


def _asked(reward_model, prefix: list[int] | None):
    """The reward model that scores: asked about the principles of ``prefix`` where there is one."""
    from prefzoo.algorithms.engine.principles import InstructedRewardModel

    return reward_model if prefix is None else InstructedRewardModel.asking(reward_model, prefix)


def run_reward_learning(algorithm, ctx: RunContext) -> CellResult:
    """A reward model trained on the pairs the step budget reads, diagnosed on the held-out pairs
    against the gold reward, saved, then removed from the base."""
    from prefzoo.algorithms.engine.reward_eval import reward_diagnostics

    rows = _read_rows(ctx)
    adapter = f"reward-{algorithm.name}"
    reward_model, result, extras = _learn_reward_model(algorithm, ctx, rows, adapter)
    labelled = extras["labelled_pairs"]
    trained_on = (f"{extras['demonstrations']} demonstrations" if "demonstrations" in extras
                  else f"{labelled} labelled pairs of {len(rows)}")
    try:
        ctx.log(f"{algorithm.name}: reward model trained for {ctx.reward_epochs} epochs on {trained_on} "
                f"in {result.wall_time_s:.1f} s, final loss {result.history[-1]['loss']:.4f}")
        evaluation: dict[str, Any] = {}
        if algorithm.uses_principles:  # the diagnostics ask about every principle; then each one alone
            from prefzoo.algorithms.engine.principles import principle_agreement

            evaluation["principles"] = principle_agreement(reward_model, list(ctx.eval_data), ctx.principles,
                                                           ctx.tokenizer, ctx.pad_id)
        asked = _asked(reward_model, _principle_prefix(algorithm, "", ctx))
        chosen, rejected = asked.score_pairs(list(ctx.eval_data), ctx.pad_id)
        gold = ctx.eval_gold.double()
        evaluation["reward"] = reward_diagnostics(chosen, rejected, gold[:, 0], gold[:, 1], ctx.label_temperature)
        if ctx.ood_data:  # the same diagnostics on prompts of templates and subjects training never saw
            chosen, rejected = asked.score_pairs(ctx.ood_data, ctx.pad_id)
            evaluation["reward_ood"] = reward_diagnostics(chosen, rejected, ctx.ood_gold[:, 0], ctx.ood_gold[:, 1],
                                                          ctx.label_temperature)
        saved = reward_model.save(ctx.out_dir)
    finally:
        ctx.model.delete_adapter(adapter)
    return CellResult(result, Costs(oracle_queries=labelled, dataset_pairs=len(rows)),
                      extras={"pairs": len(rows), "epochs": ctx.reward_epochs,
                              "final_labels_mean": float(result.labels.mean()), **extras},
                      evaluation=evaluation, artifact=str(saved))


def rl_minibatch(rl, train) -> int:
    """Responses per optimiser step of the RL loop: the rollout (``train.batch_size`` responses) split into
    ``rl.steps_per_rollout`` equal minibatches where that is set, else the training micro batch."""
    if not rl.steps_per_rollout:
        return train.micro_batch_size
    if rl.steps_per_rollout < 1 or train.batch_size % rl.steps_per_rollout:
        raise ValueError(f"steps_per_rollout = {rl.steps_per_rollout} must divide a rollout's {train.batch_size} "
                         "responses (the training batch size) into equal minibatches")
    return train.batch_size // rl.steps_per_rollout


def run_rl(algorithm, ctx: RunContext) -> CellResult:
    """First the reward model of ``algorithm.reward_learner`` (any registered reward learner, trained
    on the pairs the budget reads, as its own cell would), then ``steps`` iterations of the RL loop
    against it, recording proxy and gold reward against KL (the overoptimisation curve)."""
    from prefzoo.registry import ALGORITHMS

    learner = ALGORITHMS.get(algorithm.reward_learner)(algorithm.reward_learner_config)
    principle = algorithm.reward_principle
    prefix = _principle_prefix(learner, principle, ctx)  # a principle it cannot take fails before training
    adapter = f"reward-{algorithm.name}"
    reward_model, learned_wall_time_s, learned_extras, reused = _shared_reward_model(learner, ctx, adapter)
    try:
        rl = dataclasses.replace(ctx.rl, responses_per_iteration=ctx.train.batch_size,
                                 minibatch_size=rl_minibatch(ctx.rl, ctx.train))
        result = train_rl(algorithm, ctx.model, ctx.tokenizer, ctx.train_prompts,
                          _asked(reward_model, prefix), ctx.model_settings, ctx.train, rl,
                          gold=ctx.gold)
    finally:
        ctx.model.delete_adapter(adapter)
    return CellResult(result, Costs(result.generated_tokens, result.reward_model_queries,
                                    learned_extras["labelled_pairs"], len(ctx.rows_read()), result.reward_model_queries),
                      label=f"{algorithm.name} ({_learner_label(algorithm)}{f': {principle}' if principle else ''})",
                      extras={"reward_model_wall_time_s": learned_wall_time_s, "reward_model_reused": reused,
                              "curve": result.curve, "reward_learning": learned_extras})


def _shared_reward_model(learner, ctx: RunContext, adapter: str):
    """The reward model an RL cell's rollouts are scored by: loaded from ``ctx.reward_model_cache``
    where a cell before it trained one from the same inputs, else trained now (and kept there). Returns
    the model, its training's wall time, its training record and whether it was loaded."""
    from prefzoo.algorithms.engine.reward_cache import load_reward_model, reward_model_key, store_reward_model

    rows = ctx.train_data.select(ctx.rows_read())
    key = reward_model_key(learner, ctx, rows) if ctx.reward_model_cache is not None else None
    folder = ctx.reward_model_cache / key if key else None
    if folder is not None and (loaded := load_reward_model(ctx.model, folder, adapter)) is not None:
        ctx.log(f"{learner.name} reward model read from {folder} (trained in {loaded[1]:.1f} s by an earlier cell)")
        return *loaded, True
    reward_model, learned, extras = _learn_reward_model(learner, ctx, list(rows), adapter)
    if folder is not None:
        try:
            store_reward_model(reward_model, folder, learned.wall_time_s, extras)
        except BaseException:
            ctx.model.delete_adapter(adapter)
            raise
    return reward_model, learned.wall_time_s, extras, False


def _learner_label(algorithm) -> str:
    """The reward learner as the RL row's label names it, with the fields it changed from its defaults."""
    config = algorithm.config
    return config.learner_label() if isinstance(config, RewardModelChoice) else algorithm.reward_learner


RUNNERS: dict[Family, Callable[[Algorithm, RunContext], CellResult]] = {
    Family.PAIRWISE: run_pairwise,
    Family.ONLINE: run_online,
    Family.REWARD: run_reward_learning,
    Family.RL: run_rl,
}


def run_family(algorithm: Algorithm, ctx: RunContext) -> CellResult:
    """Train ``algorithm`` with its family's runner."""
    return RUNNERS[algorithm.family](algorithm, ctx)
