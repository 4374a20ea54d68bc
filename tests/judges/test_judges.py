"""The judges' scores against hand values, the Bradley–Terry preference, and ``make_judge``'s refusals."""

from __future__ import annotations

import math

import pytest
import torch

from prefzoo.benchmarks.judges.base import Judge, JudgeError, make_judge
from tests.helpers import make_plugin, run_cli


def test_vader_is_the_compound_score_and_smol_sentiment_gold_is_unchanged():
    from prefzoo.benchmarks.suites.smol_sentiment.data import gold_reward

    judge = make_judge("vader")
    good = 1.9 / math.sqrt(1.9 ** 2 + 15)  # VADER: "good" has valence 1.9; compound = x / sqrt(x² + α), α = 15
    assert judge.score(None, ["good", "a place"]).tolist() == pytest.approx([good, 0.0], abs=1e-4)
    texts = ["I loved it, great food!", "terrible and slow", "a place"]
    assert torch.equal(gold_reward(texts), judge.score([None] * 3, texts))


def test_textblob_is_the_pattern_lexicon_polarity():
    judge = make_judge("textblob")
    # pattern's lexicon: good 0.7, great 0.8, terrible -1.0; "not" multiplies by -0.5, "very" by 1.3; the
    # polarity is the mean over the words found.
    texts = ["good", "great", "not good", "very good", "the food was good and the staff was terrible", "a place"]
    assert judge.score([None] * 6, texts).tolist() == pytest.approx([0.7, 0.8, -0.35, 0.91, -0.15, 0.0])


def test_a_pointwise_judge_prefers_through_bradley_terry_at_its_temperature():
    judge = make_judge("textblob")
    p = judge.prefer([None, None], ["great", "good"], ["good", "great"])
    assert p.tolist() == pytest.approx([1 / (1 + math.exp(-0.1 / 0.1)), 1 / (1 + math.exp(0.1 / 0.1))])


def test_make_judge_refuses_bad_specs_in_one_line():
    with pytest.raises(JudgeError, match=r"unknown judge 'textblb'; did you mean 'textblob'"):
        make_judge("textblb")
    with pytest.raises(JudgeError, match=r"the reward-model judge needs an argument"):
        make_judge("reward-model")
    with pytest.raises(JudgeError, match=r"the vader judge takes no argument"):
        make_judge("vader:x")


def test_a_judge_whose_package_is_missing_is_refused_naming_it(monkeypatch):
    from prefzoo.benchmarks.judges.textblob import TextBlobPolarity

    monkeypatch.setattr(TextBlobPolarity, "requires", ("textblob", "no_such_package_xyz"))
    with pytest.raises(JudgeError, match=r"needs the package no_such_package_xyz, which is not installed "
                                         r"\(pip install no_such_package_xyz\)"):
        make_judge("textblob")


def test_a_plugin_judge_is_listed_with_its_origin_and_a_broken_one_is_reported(plugin_site):
    source = ("import torch\nfrom prefzoo.benchmarks.judges.base import Judge\n"
              "class Length(Judge):\n    summary = 'words in the response'\n"
              "    def score(self, prompts, completions):\n"
              "        return torch.tensor([float(len(c.split())) for c in completions], dtype=torch.float64)\n")
    make_plugin(plugin_site, "lengthjudge", "lengthjudge", source,
                {"length": "lengthjudge:Length", "broken": "lengthjudge:Missing"}, group="prefzoo.judges")
    out = run_cli("list", "--judges", site=plugin_site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "length" in out.stdout and "lengthjudge" in out.stdout and "words in the response" in out.stdout
    assert "plugins that failed to load" in out.stdout and "broken" in out.stdout
    assert "textblob" in out.stdout and "built-in" in out.stdout


def test_a_judge_class_must_be_a_judge():
    from prefzoo.benchmarks.judges.base import bind_judge

    with pytest.raises(TypeError, match="must be a subclass of"):
        bind_judge("nope", object)

    class Cold(Judge):
        temperature = 0.0

        def score(self, prompts, completions):
            return torch.zeros(len(completions))

    with pytest.raises(ValueError, match="temperature = 0.0 must be positive"):
        bind_judge("cold", Cold)
