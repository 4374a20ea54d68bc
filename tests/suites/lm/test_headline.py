"""The top of the leaderboard: the main setting is the one that ranks at matched KL, its headline is the
matched-KL ranking in a few columns, and a fixed-budget setting beside it says it is superseded."""

import dataclasses
import re

from prefzoo.benchmarks.harness.results import result_path, write_json_atomic
from prefzoo.benchmarks.suites.lm.profiles import PROFILES
from prefzoo.leaderboard.render import render
from tests.helpers import interval, lm_result

PROMPTS = 24


def _eval(rewards, kl=None):
    out = {"samples": {"prompt_ids": list(range(PROMPTS)), "texts": [""] * PROMPTS, "rewards": rewards},
           "gold_reward": interval(sum(rewards) / PROMPTS)}
    if kl is not None:
        out["sequence_kl"] = interval(kl)
        out["kl_samples"] = {"prompt_ids": list(range(PROMPTS)), "log_ratios": [kl] * PROMPTS}
    return out


def test_the_headline_ranks_the_matched_kl_setting_and_the_fixed_budget_one_says_it_is_superseded(tmp_path):
    results = tmp_path / "results"
    fixed = dataclasses.replace(PROFILES["quick"], eval_at=(), kl_samples=0,
                                train=dataclasses.replace(PROFILES["quick"].train, steps=12, learning_rate=1e-4))
    docs = []
    for seed in range(3):
        reference = [0.1 * (p % 3) for p in range(PROMPTS)]
        docs.append(lm_result(algorithm="reference", family="reference", seed=seed, eval=_eval(reference)))
        # dpo: +0.5 on every prompt at KL 2; ipo: +0.02 at KL 2, i.e. within noise of nothing it is not
        docs.append(lm_result(algorithm="dpo", seed=seed, train={"wall_time_s": 60.0},
                              eval=_eval([r + 0.5 for r in reference], 2.0)))
        docs.append(lm_result(algorithm="ipo", seed=seed, train={"wall_time_s": 90.0},
                              eval=_eval([r + 0.02 * (1 if (p + seed) % 2 else -1) for p, r in enumerate(reference)], 2.0)))
        if seed == 0:  # a row still at its first seed: left out of the global test, not cutting it to one seed
            docs.append(lm_result(algorithm="kto", seed=seed, train={}, eval=_eval([r + 0.1 for r in reference], 2.0)))
        for name in ("reference", "dpo", "ipo", "simpo"):  # the fixed-budget setting has more rows, no KL
            docs.append(lm_result(algorithm=name, family="reference" if name == "reference" else "pairwise",
                                  seed=seed, settings=fixed.to_dict(), hash=f"{name}-fixed",
                                  train=None if name == "reference" else {}, eval=_eval(reference)))
    for doc in docs:
        write_json_atomic(result_path(results, "smol-sentiment", doc["algorithm"], doc["seed"], doc["hash"]), doc)

    text = render(results, tmp_path / "board")[0].read_text()
    headline = text[text.index("## The rankings at a glance"):text.index("\n## smol-sentiment")]
    assert "main setting: gold at matched KL(π‖π_ref), ranked at KL 2 nats" in headline
    table = [line for line in headline.splitlines() if line.startswith("|")]
    headers = [c.strip() for c in table[0].strip("|").split("|")]
    assert headers[:5] == ["rank at KL 2 [95%]", "algorithm", "family", "gold at KL 2 [95% CI]",
                           "Δ gold at KL 2 vs reference [95% CI]"] and len(headers) <= 9
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert [r[1] for r in rows] == ["dpo ▲", "kto ▲", "ipo"]  # ipo's ±0.02 does not beat the reference
    assert "all algorithms equal? F(1, 2) =" in headline and "left out: `kto`" in headline
    assert rows[0][4].startswith("+0.500 [") and rows[0][-1] == "60"
    assert "Not yet run at this setting: " in headline  # simpo and the registered pairwise losses it lacks

    matched = text[text.index("#### Gold at matched KL"):text.index("#### The policies at the end of the budget")]
    assert "**Power.** At 3 seeds × 24 held-out prompts" in matched and "F(1, 2) =" in matched  # kto's 1 seed: out
    final = text[text.index("#### The policies at the end of the budget"):]
    assert "F(1, 2) =" in final and "(rows with fewer than 3 seeds left out: `kto`)" in final  # the global test's rows

    titles = re.findall(r"^### (smol-sentiment · .*)$", text, re.M)
    assert titles[0] == "smol-sentiment · main setting"
    assert "evaluated at the end only" in titles[1] and "no KL(π‖π_ref) estimate" in titles[1]
    fixed_section = text[text.index(f"### {titles[1]}"):]
    assert "**Fixed-budget protocol, superseded.**" in fixed_section
    assert "**Fixed-budget protocol, superseded.**" not in text[:text.index(f"### {titles[1]}")]


def test_a_suite_ranked_at_a_fixed_budget_says_its_rows_sit_at_different_distances(tmp_path):
    results = tmp_path / "results"
    fixed = dataclasses.replace(PROFILES["quick"], eval_at=(), kl_samples=0)
    reference = [0.1 * (p % 3) for p in range(PROMPTS)]
    for seed in range(3):
        for name, gain, log_ratio in (("reference", 0.0, None), ("dpo", 0.3, 0.5), ("orpo", 0.4, 4.0)):
            evaluation = _eval([r + gain for r in reference])
            if log_ratio is not None:
                evaluation["samples"]["log_ratios"] = [log_ratio] * PROMPTS
            doc = lm_result(algorithm=name, family="reference" if name == "reference" else "pairwise", seed=seed,
                            settings=fixed.to_dict(), hash=f"{name}-fixed", train=None if name == "reference" else {},
                            eval=evaluation)
            write_json_atomic(result_path(results, "smol-sentiment", name, seed, doc["hash"]), doc)

    text = render(results, tmp_path / "board")[0].read_text()
    headline = text[text.index("## The rankings at a glance"):text.index("\n## smol-sentiment")]
    assert "main setting: the policies at the end of the budget" in headline
    assert "Fixed budget, not matched KL: the rows end between 0.50 and 4.00 nats of log π/π_ref" in headline
    assert "`prefzoo bench --suite smol-sentiment --profile quick` runs the matched-KL protocol" in headline
