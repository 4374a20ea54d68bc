"""The reward model an RL cell keeps for the next one (``reward_cache``): a cell that loads it trains
exactly as a cell that trains its own, a different seed or learner trains anew, and a learner whose
inputs the key cannot see is never shared."""

from __future__ import annotations

import dataclasses

import pytest

from prefzoo.algorithms.engine.reward_cache import reward_model_key
from prefzoo.algorithms.engine.runners import run_family
from prefzoo.registry import ALGORITHMS
from tests.engine.test_runners import TRAIN, context
from tests.tiny_lm import make_tiny_lm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def _rl_cell(name, tiny, folder, cache, train=TRAIN):
    """One RL cell on a fresh copy of the tiny policy: (result, the adapters left on the model)."""
    ctx = dataclasses.replace(context(tiny, folder), reward_model_cache=cache, train=train)
    before = set(ctx.model.peft_config)
    result = run_family(ALGORITHMS.get(name)(), ctx)
    assert set(ctx.model.peft_config) == before  # the reward adapter is removed, loaded or trained
    return result


def _trace(result):
    return [h["loss"] for h in result.train.history], result.extras["curve"]


def test_a_cell_that_loads_the_reward_model_trains_as_one_that_trains_its_own(tiny, tmp_path):
    cache = tmp_path / "cache"
    own = _rl_cell("grpo", tiny, tmp_path / "own", None)
    first = _rl_cell("grpo", tiny, tmp_path / "first", cache)
    again = _rl_cell("grpo", tiny, tmp_path / "again", cache)
    assert (own.extras["reward_model_reused"], first.extras["reward_model_reused"],
            again.extras["reward_model_reused"]) == (False, False, True)
    assert _trace(again) == _trace(first) == _trace(own)  # bit for bit: the same policy updates and rewards
    assert again.extras["reward_model_wall_time_s"] == first.extras["reward_model_wall_time_s"]
    assert again.extras["reward_learning"] == first.extras["reward_learning"]
    assert [p.name for p in cache.iterdir()] == [p.name for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(list(cache.iterdir())) == 1  # written once, nothing half-written beside it
    # another RL algorithm on the same learner, pairs and seed reads the same model
    rloo = _rl_cell("rloo", tiny, tmp_path / "rloo", cache)
    assert rloo.extras["reward_model_reused"] and len(list(cache.iterdir())) == 1


def test_another_seed_trains_its_own_reward_model(tiny, tmp_path):
    cache = tmp_path / "cache"
    _rl_cell("grpo", tiny, tmp_path / "a", cache)
    other = _rl_cell("grpo", tiny, tmp_path / "b", cache, dataclasses.replace(TRAIN, seed=1))
    assert not other.extras["reward_model_reused"] and len(list(cache.iterdir())) == 2


def test_the_key_names_the_learner_and_never_shares_what_it_cannot_see(tiny, tmp_path):
    ctx = context(tiny, tmp_path)
    rows = ctx.train_data.select(ctx.rows_read())
    bt, ids = ALGORITHMS.get("bt")(), ALGORITHMS.get("ids")()
    assert reward_model_key(bt, ctx, rows) == reward_model_key(ALGORITHMS.get("bt")(), ctx, rows)
    assert reward_model_key(bt, ctx, rows) != reward_model_key(ids, ctx, rows)
    assert reward_model_key(bt, ctx, rows) != reward_model_key(bt, dataclasses.replace(ctx, reward_epochs=2), rows)
    assert reward_model_key(bt, ctx, rows) != reward_model_key(bt, ctx, rows.select(range(len(rows) - 1)))
    # trained on a policy's samples (extraction) or on principle draws: inputs the key does not hash
    assert reward_model_key(ALGORITHMS.get("irl")(), ctx, rows) is None
    assert reward_model_key(ALGORITHMS.get("salmon-rm")(), ctx, rows) is None
