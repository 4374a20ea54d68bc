"""Reward models on the policies' own samples: the correlations and the proxy-vs-gold gap by hand, and
scoring a sample as a training pair's response is scored."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine.data import TokenizationSettings, tokenize_pairs
from prefzoo.algorithms.engine.reward_model import RewardModel
from prefzoo.benchmarks.studies.reward_on_policies import (_pooled, learner_label, on_policy_stats, policy_results,
                                                           score_samples)
from tests.helpers import lm_result, lm_results
from tests.tiny_lm import make_tiny_lm, policy


def test_gap_is_the_proxy_shift_beyond_the_gold_shift_in_reference_sds():
    ids = [0, 0, 1, 1, 2, 2, 3, 3]
    ref_gold = torch.tensor([0.0, 1, 0, 1, 0, 1, 0, 1])
    ref_proxy = 2 * ref_gold  # sd 2·sd(gold): the gap is scale-free
    gold = ref_gold + 0.5 * ref_gold.std()  # the policy gains half a gold sd ...
    proxy = ref_proxy + 2.0 * ref_proxy.std()  # ... and two proxy sds: 1.5 sds the gold did not see
    out = on_policy_stats(proxy, gold, ref_proxy, ref_gold, ids, resamples=200)
    assert out["gap"] == pytest.approx(1.5)
    assert out["pearson"] == pytest.approx(1.0) and out["spearman"] == pytest.approx(1.0)
    assert out["pearson_ci"][0] <= 1.0 + 1e-9 and out["gap_ci"][0] - 1e-6 <= 1.5 <= out["gap_ci"][1] + 1e-6
    reversed_proxy = -proxy
    assert on_policy_stats(reversed_proxy, gold, ref_proxy, ref_gold, ids, resamples=10)["spearman"] == \
        pytest.approx(-1.0)


def test_a_sample_is_scored_as_a_training_pairs_response(tmp_path):
    settings, tok, model = policy(make_tiny_lm(tmp_path / "model"), quantize=False)
    reward_model = RewardModel.create(model, settings, seed=0)
    with torch.no_grad():
        reward_model.head.weight.normal_(0, 1.0)  # a non-zero head, so the scores differ
    prompts = [[{"role": "user", "content": "write a review about the pizza"}],
               [{"role": "user", "content": "write a review about the cafe"}]]
    texts = ["i loved it", "it was bad", "very good food"]
    got = score_samples(reward_model, tok, prompts, [0, 1, 1], texts)
    rows = [{"prompt": prompts[p], "chosen": [{"role": "assistant", "content": t}],
             "rejected": [{"role": "assistant", "content": "okay"}]} for p, t in zip([0, 1, 1], texts)]
    expected, _ = reward_model.score_pairs(list(tokenize_pairs(rows, tok, TokenizationSettings())), tok.pad_token_id)
    assert torch.allclose(got, expected, atol=1e-5) and got.unique().numel() == 3


def test_correlations_pool_over_seeds_in_fisher_z_and_stay_inside_one():
    values = [0.45, 0.95, 0.7]
    z = torch.atanh(torch.tensor(values, dtype=torch.float64))
    half = 4.302653 * z.std() / 3 ** 0.5  # t(0.975, 2 df)
    expected = [torch.tanh(z.mean() + d).item() for d in (0, -half, half)]
    mean, low, high = (float(x) for x in _pooled(values, [0, 0], correlation=True).replace("[", "").replace(
        "]", "").replace(",", "").split())
    assert (mean, low, high) == pytest.approx(expected, abs=0.006) and high < 1
    assert _pooled(values, [0, 0]) == "+0.70 [+0.08, +1.32]"  # the plain t interval a shift gets


def test_one_learner_at_two_configs_is_two_reward_models():
    def doc(algorithm, **config):
        return lm_results(lm_result(algorithm=algorithm, config=config))[0]

    grpo = doc("irl", alpha=0.001, loss="max_margin", policy="grpo")
    ppo_ids = doc("irl", alpha=0.001, loss="max_margin", policy="ppo", policy_config='{"reward_learner": "ids"}')
    assert learner_label(grpo) == "irl[policy=grpo]"
    assert learner_label(ppo_ids) == 'irl[policy=ppo, policy_config={"reward_learner": "ids"}]'
    assert learner_label(doc("bt", alpha=0.001)) == "bt"
    assert learner_label(doc("bt", alpha=0.01)) == "bt[alpha=0.01]"


def test_policies_are_kept_by_row_label_with_the_reference_and_an_unknown_label_is_named():
    def doc(algorithm, seed, label=None, samples=True, reward=False):
        diagnostics = {"pairs": 8, "pair_accuracy": 0.5, "pair_accuracy_ci": [0, 1], "correlation": 0.0,
                       "correlation_ci": [0, 1], "ece": 0.1}
        ev = {**({"samples": {"prompt_ids": [0], "texts": ["a"]}} if samples else {}),
              **({"reward": diagnostics} if reward else {})}
        return lm_results(lm_result(algorithm=algorithm, seed=seed, eval=ev, label=label))[0]

    group = [doc("reference", 0), doc("ppo", 0, "ppo (bt)"), doc("ppo", 0, "ppo (ids)"), doc("dpo", 0),
             doc("dpo", 1), doc("bt", 0, reward=True), doc("kto", 0, samples=False)]
    assert sorted(policy_results(group)) == [("dpo", 0), ("dpo", 1), ("ppo (bt)", 0), ("ppo (ids)", 0),
                                             ("reference", 0)]
    assert sorted(policy_results(group, "ppo (ids),dpo")) == [("dpo", 0), ("dpo", 1), ("ppo (ids)", 0),
                                                             ("reference", 0)]
    with pytest.raises(SystemExit, match=r"no policy \['ppo'\].*its policies: dpo, ppo \(bt\)"):
        policy_results(group, "ppo")
