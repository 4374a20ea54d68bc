"""The reward-model judge on a tiny random sequence-classification model: its score is the model's one
logit on the chat-templated pair, batching does not change it, and bad models are refused in one line."""

from __future__ import annotations

import pytest
import torch

from prefzoo.benchmarks.judges.base import JudgeError, make_judge
from tests.tiny_lm import make_tiny_lm, make_tiny_reward_model

PROMPTS = [[{"role": "user", "content": "write a review about the pizza"}], "write a review about the cafe",
           [{"role": "user", "content": "write a review about the book"}]]
RESPONSES = ["i loved the pizza it was very good", "it was bad", "the book was okay"]


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory):
    return make_tiny_reward_model(tmp_path_factory.mktemp("rm") / "rm")


def test_the_score_is_the_models_logit_on_the_chat_templated_pair(reward_model):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    judge = make_judge(f"reward-model:{reward_model}")
    scores = judge.score(PROMPTS, RESPONSES)
    assert scores.dtype == torch.float64 and scores.shape == (3,)
    model = AutoModelForSequenceClassification.from_pretrained(reward_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(reward_model)
    for prompt, response, score in zip(PROMPTS, RESPONSES, scores):
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        text = f"<user> {messages[0]['content']} <eos> <assistant> {response} <eos> "  # the tiny chat template
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            assert score.item() == pytest.approx(model(**ids).logits[0, 0].item(), abs=1e-5)
    one_by_one = make_judge(f"reward-model:{reward_model},batch_size=1").score(PROMPTS, RESPONSES)
    assert torch.allclose(scores, one_by_one, atol=1e-5)
    p = judge.prefer(PROMPTS[:2], RESPONSES[:2], RESPONSES[1:3])
    assert torch.allclose(p, torch.sigmoid(scores[:2] - judge.score(PROMPTS[:2], RESPONSES[1:3])))


def test_the_fingerprint_follows_the_weights_and_the_quantisation(reward_model, tmp_path):
    judge = make_judge(f"reward-model:{reward_model}")
    other = make_tiny_reward_model(tmp_path / "other", seed=1)
    assert judge.fingerprint() == make_judge(f"reward-model:{reward_model}").fingerprint()
    assert judge.fingerprint() != make_judge(f"reward-model:{reward_model},quantize=nf4").fingerprint()
    assert judge.fingerprint() != make_judge(f"reward-model:{other}").fingerprint()


def test_bad_reward_models_are_refused_in_one_line(tmp_path):
    with pytest.raises(JudgeError, match=r"reward-model:\./missing: \./missing is not a folder"):
        make_judge("reward-model:./missing")
    two = make_tiny_reward_model(tmp_path / "two", num_labels=2)
    with pytest.raises(JudgeError, match=r"has 2 outputs \(num_labels = 2\); a reward model has one"):
        make_judge(f"reward-model:{two}")
    lm = make_tiny_lm(tmp_path / "lm")
    with pytest.raises(JudgeError, match=r"is a causal LM \(LlamaForCausalLM\), not a reward model"):
        make_judge(f"reward-model:{lm}")
    with pytest.raises(JudgeError, match=r"unknown option 'quantise=nf4'"):
        make_judge(f"reward-model:{two},quantise=nf4")
