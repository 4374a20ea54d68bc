"""The sequence-level KL estimator against the exact KL of a tiny model whose responses (at most two
tokens of a 64-token vocabulary) can be enumerated."""

import pytest
import torch

from prefzoo.algorithms.engine.data import prompt_token_ids
from prefzoo.algorithms.engine.kl import sample_kl
from prefzoo.algorithms.engine.models import reference_mode
from tests.tiny_lm import make_tiny_lm, policy

PROMPT = [{"role": "user", "content": "write a review about the pizza"}]


def _next_token_logps(model, sequences: list[list[int]]) -> torch.Tensor:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(sequences)).logits[:, -1].double()
    return torch.log_softmax(logits, -1)


def _event_logps(model, prompt: list[int], eos: int) -> dict[tuple[int, ...], float]:
    """log π of every response of at most two tokens: (eos,) and (t1, t2) for t1 ≠ eos."""
    first = _next_token_logps(model, [prompt])[0]
    tokens = [t for t in range(len(first)) if t != eos]
    second = _next_token_logps(model, [prompt + [t] for t in tokens])
    events = {(eos,): float(first[eos])}
    for row, t1 in enumerate(tokens):
        for t2 in range(second.shape[1]):
            events[(t1, t2)] = float(first[t1] + second[row, t2])
    return events


def _as_sampled(event: tuple[int, ...], pad: int) -> tuple[int, ...]:
    """The response the sampler reports for a drawn event: trailing pad tokens are dropped."""
    while event and event[-1] == pad:
        event = event[:-1]
    return event


def test_the_estimator_is_unbiased_for_the_exact_kl_of_an_enumerable_model(tmp_path):
    _, tokenizer, model = policy(make_tiny_lm(tmp_path / "model"), quantize=False)
    with torch.no_grad():  # a policy well away from π_ref, so the KL is not ~0
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0, generator=torch.Generator().manual_seed(1))
    model.eval()
    prompt = prompt_token_ids(tokenizer, PROMPT)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    pi = _event_logps(model, prompt, eos)
    with reference_mode(model):
        ref = _event_logps(model, prompt, eos)
    assert torch.tensor(list(pi.values()), dtype=torch.float64).exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    exact = sum(torch.exp(torch.tensor(pi[e])) * (pi[e] - ref[e]) for e in pi).item()

    # what the estimator's samples measure: each event as the sampler reports it (its log-ratio is that of
    # the reported prefix, which differs from the event's only for the rare responses ending in a pad token)
    def reported(e):
        shown = _as_sampled(e, pad)
        if shown == e:
            return pi[e] - ref[e]
        if not shown:
            return 0.0
        first_pi = _next_token_logps(model, [prompt])[0, shown[0]].item()
        with reference_mode(model):
            first_ref = _next_token_logps(model, [prompt])[0, shown[0]].item()
        return first_pi - first_ref

    expected = sum(torch.exp(torch.tensor(pi[e])).item() * reported(e) for e in pi)
    assert exact > 0.05 and expected == pytest.approx(exact, rel=0.05)

    n = 4000
    kl = sample_kl(model, tokenizer, [PROMPT], n, max_new_tokens=2, batch_size=500, seed=0)
    ratios = torch.tensor(kl.log_ratios, dtype=torch.float64)
    assert len(ratios) == n and set(kl.prompt_ids) == {0}
    standard_error = ratios.std().item() / n ** 0.5
    assert abs(kl.estimate - expected) < 4 * standard_error  # unbiased: within sampling error of the truth
    assert standard_error < 0.1 * exact  # and the test can tell: the error is well below the quantity
