"""The online family: XPO's loss by hand, α = 0 is DPO, oracles and their query counts, the growing
dataset of Algorithm 1 (bandit and LM loops), and generation from the policy versus the reference
with the adapter truly disabled."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from prefzoo.algorithms.engine.oracles import BradleyTerryOracle, CallableOracle
from prefzoo.algorithms.framework.base import PairLogps, PairOrigins
from prefzoo.benchmarks.suites.bandit.online import OnlineBanditSettings, run_online_bandit
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, policy

XPO, ONLINE_DPO, DPO = ALGORITHMS.get("xpo"), ALGORITHMS.get("online-dpo"), ALGORITHMS.get("dpo")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def test_xpo_loss_is_dpo_plus_alpha_times_the_reference_sample_log_prob_by_hand():
    # pair 1: the reference sample lost (it is y⁻); pair 2: it won (y⁺)
    pairs = PairLogps(torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -2.0]),
                      torch.tensor([-3.5, -4.0]), torch.tensor([-3.0, -2.5]))
    origins = PairOrigins(torch.tensor([False, True]), torch.tensor([True, False]))
    beta, alpha = 0.5, 0.2
    # h₁ = (−3 + 3.5) − (−4 + 3) = 1.5; h₂ = (−5 + 4) − (−2 + 2.5) = −1.5
    expected = [-math.log(1 / (1 + math.exp(-0.75))) + alpha * -4.0,
                -math.log(1 / (1 + math.exp(0.75))) + alpha * -5.0]
    out = XPO(XPO.Config(beta=beta, alpha=alpha)).loss(pairs, origins, progress=0.3)
    assert out.losses.tolist() == pytest.approx(expected, abs=1e-6)


def test_xpo_alpha_follows_its_linear_schedule():
    constant = XPO(XPO.Config(alpha=0.3))
    assert constant.alpha_at(0.0) == constant.alpha_at(1.0) == 0.3
    decaying = XPO(XPO.Config(alpha=0.3, alpha_final=0.1))
    assert [decaying.alpha_at(p) for p in (0.0, 0.5, 1.0)] == pytest.approx([0.3, 0.2, 0.1])


def test_xpo_with_alpha_zero_is_the_dpo_update_on_the_same_pairs(tiny):
    """Same adapter, same labelled pairs: the gradient of XPO(α = 0) equals DPO's, to the bit; α > 0 does not."""
    from prefzoo.algorithms.engine.data import TokenizationSettings, collate_pairs, tokenize_pairs
    from prefzoo.algorithms.engine.pairwise import pair_logps
    from prefzoo.algorithms.engine.reference import compute_reference_logps, with_reference
    from tests.tiny_lm import pairs

    _, tok, model = policy(tiny, quantize=False)
    data = tokenize_pairs(pairs(6), tok, TokenizationSettings())
    data = with_reference(data, compute_reference_logps(model, data, tok.pad_token_id))
    batch = collate_pairs(list(data), tok.pad_token_id)
    origins = PairOrigins(torch.tensor([True, False] * 3), torch.tensor([False, True] * 3))
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(loss_fn):
        model.train()
        return torch.autograd.grad(loss_fn(pair_logps(model, batch)).loss, params)

    dpo = grads(lambda b: DPO(DPO.Config(beta=0.3))(b))
    xpo0 = grads(lambda b: XPO(XPO.Config(beta=0.3, alpha=0.0)).loss(b, origins, 0.5))
    xpo = grads(lambda b: XPO(XPO.Config(beta=0.3, alpha=0.1)).loss(b, origins, 0.5))
    assert all(torch.equal(a, b) for a, b in zip(dpo, xpo0))
    assert max((a - b).abs().max().item() for a, b in zip(dpo, xpo)) > 1e-4


def test_bradley_terry_oracle_counts_queries_and_follows_the_reward():
    reward = lambda _, arms: torch.as_tensor(arms, dtype=torch.float64)  # noqa: E731
    hard = BradleyTerryOracle(reward, temperature=0)
    assert hard(None, [3, 1, 2], [1, 2, 2]).tolist() == [True, False, True]  # ties go to the first
    assert hard.queries == 3
    soft = BradleyTerryOracle(reward, temperature=1.0, seed=1)
    n = 20_000
    wins = soft(None, torch.ones(n), torch.zeros(n)).double().mean().item()
    assert wins == pytest.approx(1 / (1 + math.exp(-1)), abs=0.01) and soft.queries == n
    with pytest.raises(ValueError, match="temperature = -1"):
        BradleyTerryOracle(reward, temperature=-1)


def test_callable_oracle_is_checked_and_counted():
    judge = CallableOracle(lambda prompts, a, b: [len(x) > len(y) for x, y in zip(a, b)])
    assert judge(["p", "q"], ["long answer", "no"], ["short", "yes it is"]).tolist() == [True, False]
    assert judge.queries == 2
    with pytest.raises(ValueError, match=r"expected bool of shape \(2,\)"):
        CallableOracle(lambda p, a, b: [True])(None, ["x", "y"], ["z", "w"])
    with pytest.raises(ValueError, match="2 first responses but 1 second"):
        judge(None, ["x", "y"], ["z"])


@pytest.mark.parametrize("name", ["xpo", "online-dpo"])
def test_bandit_dataset_grows_as_algorithm_1_says_and_queries_are_counted(name):
    cls = ALGORITHMS.get(name)
    settings = OnlineBanditSettings(rounds=12, pairs_per_round=3, updates_per_round=2, seeds=4)
    run = run_online_bandit(cls, cls.Config(beta=0.5), settings)
    assert run.dataset_sizes == [3 * (t + 1) for t in range(12)]  # D_t ← D_{t−1} ∪ {this round's pairs}
    assert run.trained_sizes == (run.dataset_sizes if cls.keeps_all_data else [3] * 12)
    assert run.oracle_queries == 12 * 3 * 4 and run.responses_sampled == 2 * 12 * 3 * 4


def test_both_online_algorithms_learn_the_bandit():
    """From π_ref, which plays the best arm 0.1% of the time and earns E[r] = 0.11, both algorithms raise
    the expected true reward on every seed."""
    settings = OnlineBanditSettings(seeds=6)
    reference = (settings.reference_logp().exp() * settings.true_rewards()).sum().item()
    for cls in (XPO, ONLINE_DPO):
        run = run_online_bandit(cls, cls.Config(beta=0.5), settings)
        assert (run.final_reward > reference + 0.3).all(), (cls.name, run.final_reward)
        assert (run.kl > 0).all() and (run.regret > 0).all()


def test_lm_online_loop_grows_the_dataset_counts_queries_and_caps_the_buffer(tiny):
    from prefzoo.algorithms.engine.online import OnlineSettings, train_online
    from prefzoo.algorithms.engine.pairwise import TrainSettings

    prompts = [[{"role": "user", "content": f"write a review about the {s}"}] for s in ("pizza", "cafe", "movie", "book")]
    train = TrainSettings(steps=3, batch_size=2, micro_batch_size=1, learning_rate=1e-2)
    online = OnlineSettings(prompts_per_round=2, max_new_tokens=4)
    for cls, cap, pools in ((XPO, 0, [2, 4, 6]), (ONLINE_DPO, 0, [2, 2, 2]), (XPO, 3, [2, 3, 3])):
        _, tok, model = policy(tiny, quantize=False)
        oracle = BradleyTerryOracle(lambda _, texts: torch.tensor([float(len(t)) for t in texts]), 0.5)
        result = train_online(cls(), model, tok, prompts, oracle, train,
                              dataclasses.replace(online, replay_capacity=cap))
        assert result.dataset_sizes == [2, 4, 6] and result.trained_sizes == pools, (cls.name, cap)
        assert result.oracle_queries == oracle.queries == 6 and result.responses_sampled == 12
        assert len(result.history) == 3 and 0 < result.generated_tokens <= 12 * 4


def test_reference_samples_stay_fixed_while_policy_samples_move(tiny):
    """XPO's ỹ comes from the base with the adapter disabled: the same seed gives the same reference
    samples before and after training, while the trained policy's samples differ from them."""
    from prefzoo.algorithms.engine.generation import sample_responses
    from prefzoo.algorithms.engine.online import OnlineSettings, train_online
    from prefzoo.algorithms.engine.pairwise import TrainSettings

    prompts = [[{"role": "user", "content": f"write a review about the {s}"}] for s in ("pizza", "cafe", "movie", "book")]
    _, tok, model = policy(tiny, quantize=False)

    def draw(reference: bool):
        return [s.completion_ids for s in sample_responses(model, tok, prompts, 4, 6, 16, seed=7, reference=reference)]

    before_ref, before_policy = draw(True), draw(False)
    oracle = BradleyTerryOracle(lambda _, texts: torch.tensor([float(t.count("good")) for t in texts]), 0.0)
    train_online(XPO(XPO.Config(beta=0.1, alpha=0.5)), model, tok, prompts, oracle,
                 TrainSettings(steps=6, batch_size=4, micro_batch_size=4, learning_rate=0.2),
                 OnlineSettings(prompts_per_round=4, max_new_tokens=6))
    after_ref, after_policy = draw(True), draw(False)
    assert after_ref == before_ref
    assert after_policy != before_policy and after_policy != after_ref



@pytest.mark.slow
def test_bandit_suite_runs_online_algorithms_and_the_leaderboard_shows_their_table(tmp_path):
    from tests.helpers import run_cli

    results = tmp_path / "results"
    out = run_cli("bench", "--suite", "bandit", "--family", "online-preference", "--seeds", "2", "--strengths",
                  "0.5", "--results", str(results), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(list((results / "bandit" / "xpo").glob("*.json"))) == 2
    assert len(list((results / "bandit" / "online-dpo").glob("*.json"))) == 2
    out = run_cli("leaderboard", "--results", str(results), "--out", str(tmp_path / "board"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    board = (tmp_path / "board" / "README.md").read_text()
    assert "Online preference optimisation on a K-armed bandit" in board
    assert "| xpo | β=0.5 | 100 | 2 |" in board and "| online-dpo | β=0.5 | 100 | 2 |" in board
    out = run_cli("bench", "--suite", "bandit", "--family", "critic-rl", "--results", str(tmp_path / "none"),
                  cwd=tmp_path)
    assert out.returncode == 2 and "trains pairwise, online-preference, reward-learning, rl-with-reward" in out.stdout
    assert not (tmp_path / "none").exists()
