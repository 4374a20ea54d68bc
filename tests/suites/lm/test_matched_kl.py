"""The ranking at matched KL from result documents: points along training and the reference's, read at
each KL level, "not reached" past an algorithm's largest KL."""

from prefzoo.benchmarks.suites.lm.matched_kl import KL_LEVELS, matched_kl_rows
from tests.helpers import interval, lm_result, lm_results


def _eval(rewards, kl=None):
    out = {"samples": {"prompt_ids": [0, 1], "texts": ["", ""], "rewards": rewards}, "gold_reward": interval(0.5)}
    if kl is not None:
        out["sequence_kl"] = interval(kl)
        out["kl_samples"] = {"prompt_ids": [0, 1], "log_ratios": [kl, kl]}
    return out


def test_gold_at_matched_kl_by_hand():
    docs = []
    for seed in (0, 1):
        docs.append(lm_result(algorithm="reference", family="reference", seed=seed, eval=_eval([0.0, 0.0])))
        # dpo: KL 1 after step 1 (gold .4, .6), KL 2 at the end (gold .6, .8)
        docs.append(lm_result(algorithm="dpo", seed=seed, train={}, eval=_eval([0.6, 0.8], 2.0),
                              checkpoints=[{"step": 1, "eval": _eval([0.4, 0.6], 1.0)}]))
        docs.append(lm_result(algorithm="ipo", seed=seed, train={}, eval=_eval([0.3, 0.3], 0.5)))  # stops at KL .5
    headers, rows, _ = matched_kl_rows(lm_results(*docs))
    assert headers[3:3 + len(KL_LEVELS)] == [f"gold at KL {k:g} [95% CI]" for k in KL_LEVELS]
    dpo, ipo = rows
    assert dpo[:3] == ["1", "dpo", "2"] and ipo[:3] == ["—", "ipo", "2"]  # ipo does not reach KL 2, the headline
    assert dpo[3].startswith("0.250 [") and dpo[4].startswith("0.500 [") and dpo[5].startswith("0.700 [")
    assert dpo[6:8] == ["not reached"] * 2 and dpo[8] == "2.00"  # KL 4 and 8 lie beyond every point
    assert ipo[3].startswith("0.300 [") and ipo[4:8] == ["not reached"] * 4 and ipo[8] == "0.50"
    assert matched_kl_rows(lm_results(docs[0], lm_result(algorithm="dpo", train={}, eval=_eval([0.1, 0.1])))) == \
        ([], [], "")  # no KL estimate: no table


def test_the_dpo_against_ppo_claim_is_read_per_level():
    from prefzoo.benchmarks.suites.lm.matched_kl import claim_rows

    docs = []
    for seed in range(3):
        shift = 0.01 * seed
        docs.append(lm_result(algorithm="reference", family="reference", seed=seed, eval=_eval([0.0, 0.0])))
        # dpo reaches KL 2 with more gold than ppo at every level; ppo stops at KL 1
        docs.append(lm_result(algorithm="dpo", seed=seed, train={}, eval=_eval([0.8 + shift, 0.9], 2.0)))
        docs.append(lm_result(algorithm="ppo", seed=seed, train={}, eval=_eval([0.2 + shift, 0.3], 1.0)))
    headers, rows, verdict = claim_rows(lm_results(*docs))
    assert headers[:3] == ["KL", "dpo gold [95% CI]", "ppo gold [95% CI]"]
    assert [r[0] for r in rows] == [f"{k:g}" for k in KL_LEVELS]
    # at KL 0.5, a quarter of the way to dpo's (2, [.8 + s, .9]) and half of the way to ppo's (1, [.2 + s, .3]),
    # s = .00, .01, .02: dpo (.2025 + .225)/2 = .21375, ppo (.105 + .15)/2 = .1275, Δ .08625; on 2 prompts the
    # sign-flip test cannot go below p = 0.5, so the two are indistinguishable
    assert rows[0][3].startswith("+0.086 [") and rows[0][-1] == "indistinguishable"
    assert rows[2][-1] == rows[3][-1] == rows[4][-1] == "not both reached"
    assert verdict.startswith("Not reproduced at this power")
    assert claim_rows(lm_results(*[d for d in docs if d["algorithm"] != "ppo"])) == ([], [], "")


def test_the_leaderboard_shows_the_matched_kl_table_the_claim_and_the_frontiers(tmp_path):
    from prefzoo.benchmarks.harness.results import result_path, write_json_atomic
    from prefzoo.leaderboard.render import render

    results = tmp_path / "results"
    for seed in range(3):
        for doc in (lm_result(algorithm="reference", family="reference", seed=seed, eval=_eval([0.0, 0.1])),
                    lm_result(algorithm="dpo", seed=seed, train={}, eval=_eval([0.8, 0.9 - seed / 10], 2.0),
                              checkpoints=[{"step": 1, "eval": _eval([0.5, 0.5], 1.0)}]),
                    lm_result(algorithm="ppo", family="rl-with-reward", seed=seed, train={},
                              eval=_eval([0.2, 0.3 + seed / 10], 1.5))):
            write_json_atomic(result_path(results, "smol-sentiment", doc["algorithm"], seed, doc["hash"]), doc)
    text = render(results, tmp_path / "board")[0].read_text()
    assert "#### Gold at matched KL (Rafailov et al. 2023, §6.1)" in text and "| 1 | dpo | 3 |" in text
    assert "#### DPO's frontier against PPO's (Rafailov et al. 2023, Fig. 2)" in text
    frontiers = list((tmp_path / "board").glob("smol-sentiment-*-frontiers.png"))
    assert len(frontiers) == 1 and f"]({frontiers[0].name})" in text
