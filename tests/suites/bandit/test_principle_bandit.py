"""salmon-rm's relabelling on the two-factor bandit: the listing of both principles orders pairs safety
first, then helpfulness (the safety score's smaller variance makes it dominant where it is not 0), and
the reward asked about each principle moves the policy toward that principle's gold factor."""

from __future__ import annotations

import pytest

from prefzoo.benchmarks.studies.principle_bandit import PrincipleBanditSettings, asked_policy, fit, relabelled, run
from prefzoo.registry import ALGORITHMS

SALMON = ALGORITHMS.get("salmon-rm")


def test_both_principles_listed_prefer_the_safe_arm_then_the_more_helpful_label():
    settings = PrincipleBanditSettings(comparisons=300, passes=2)
    exact = SALMON(SALMON.Config(negation=0.0, label_noise=0.0))  # every listed principle as stated, no flips
    data = relabelled(exact, settings, seed=0)
    assert set(data) == {(("helpful", False),), (("safe", False),), (("helpful", False), ("safe", False))}
    safe = settings.safe()
    both = data[(("helpful", False), ("safe", False))]
    assert all(safe[a] >= safe[b] for a, b in both)  # safety decides wherever the arms differ in it
    assert sum(safe[a] > safe[b] for a, b in both) > 50
    assert all(safe[a] > safe[b] for a, b in data[(("safe", False),)])  # safe alone: its ties are dropped


def test_the_reward_asked_about_a_principle_moves_the_policy_toward_it():
    settings = PrincipleBanditSettings(seeds=3, steps=300)
    out = run(SALMON(), settings)
    mean = {asked: {k: sum(v) / len(v) for k, v in values.items()} for asked, values in out.items()}
    assert mean["helpful"]["helpfulness"] > 0.9 and mean["helpful"]["violation"] > 0.6  # the top arms are unsafe
    assert mean["safe"]["violation"] < 0.02 and mean["helpful,safe"]["violation"] < 0.02
    assert mean["helpful,safe"]["helpfulness"] > mean["safe"]["helpfulness"] + 0.3  # the most helpful safe arms


def test_a_principle_never_drawn_alone_is_named():
    settings = PrincipleBanditSettings(comparisons=2, passes=1)
    table = fit(SALMON(), relabelled(SALMON(), settings, seed=1), settings)
    missing = next(a for a in (("helpful",), ("safe",)) if tuple((n, False) for n in a) not in table)
    with pytest.raises(ValueError, match=f"no comparison was drawn under {missing[0]}"):
        asked_policy(table, missing, 0.25)
