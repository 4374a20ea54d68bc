"""TRL's unpaired format (prompt / completion / label): validation that names the row, field and value,
tokenisation, cached reference log-probs, and KTO trained on it through the pairwise loop — which
refuses an algorithm that needs pairs."""

from __future__ import annotations

import pytest
import torch

from prefzoo.algorithms.engine.data import DatasetError, TokenizationSettings
from prefzoo.algorithms.engine.pairwise import TrainSettings, train_pairwise
from prefzoo.algorithms.engine.reference import cached_reference_logps, with_reference
from prefzoo.algorithms.engine.unpaired_data import (collate_unpaired, is_unpaired, parse_label, tokenize_unpaired,
                                                     validate_unpaired)
from prefzoo.registry import ALGORITHMS
from tests.tiny_lm import make_tiny_lm, pairs, policy


def unpaired(n: int = 12) -> list[dict]:
    """Each pair's chosen response desirable and its rejected one undesirable (TRL's unpair_preference_dataset)."""
    rows = []
    for p in pairs(n // 2):
        rows += [{"prompt": p["prompt"], "completion": p["chosen"], "label": True},
                 {"prompt": p["prompt"], "completion": p["rejected"], "label": False}]
    return rows


@pytest.mark.parametrize("row,message", [
    ({"prompt": "p", "completion": "c"}, "row 0: field 'label' is missing or empty (present: prompt, completion)"),
    ({"prompt": "p", "completion": "  ", "label": True}, "row 0: field 'completion' is missing or empty"),
    ({"prompt": "p", "completion": "c", "label": "maybe"}, "row 0, field 'label': expected true or false "
                                                           "(desirable or not), got 'maybe'"),
    ({"prompt": "p", "completion": "c", "label": 2}, "got 2"),
    ({"prompt": "p", "completion": 3, "label": True}, "field 'completion': expected text or a list of messages, got int 3"),
    ({"prompt": [{"role": "user", "content": "p"}], "completion": "c", "label": 1},
     "prompt and completion must both be text or both be conversations"),
])
def test_bad_unpaired_rows_are_refused_naming_row_field_and_value(row, message):
    with pytest.raises(DatasetError) as err:
        validate_unpaired([row], "f.jsonl")
    assert message in str(err.value)


def test_labels_read_as_json_booleans_integers_or_csv_text():
    assert [parse_label(v, "r") for v in (True, 0, 1, "true", "False", " 1 ", "no")] == \
        [True, False, True, True, False, True, False]
    with pytest.raises(DatasetError, match="line 4"):
        validate_unpaired([{"prompt": "p", "completion": "c", "label": "yes"},
                           {"prompt": "p", "completion": "c", "label": "?", "_where": "line 4 (row 1)"}], "f.csv")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny") / "model")


def test_kto_trains_on_unpaired_rows_and_a_pairs_only_algorithm_is_refused(tiny, tmp_path):
    _, tok, model = policy(tiny, quantize=False)
    data = tokenize_unpaired(unpaired(12), tok, TokenizationSettings(), "u.jsonl")
    assert is_unpaired(data) and data["label"][:2] == [True, False]
    logps, computed = cached_reference_logps(model, data, tok.pad_token_id, "k", tmp_path)
    assert logps.shape == (12, 1) and computed == 12 and torch.isfinite(logps).all()
    assert cached_reference_logps(model, data, tok.pad_token_id, "k", tmp_path)[1] == 0  # a full cache hit
    data = with_reference(data, logps)
    batch = collate_unpaired(list(data.select(range(4))), tok.pad_token_id, mismatched=True)
    assert batch["label"].tolist() == [True, False, True, False] and batch["ref"].shape == (4,)
    assert "mismatched_input_ids" in batch

    settings = TrainSettings(steps=2, batch_size=4, micro_batch_size=4, learning_rate=5e-2)
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    result = train_pairwise(ALGORITHMS.get("kto")(), model, data, tok.pad_token_id, settings)
    assert len(result.history) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)
    assert "kl" in result.history[0]
    after = [p.detach() for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(after, before))
    with pytest.raises(DatasetError, match="dpo needs preference pairs"):
        train_pairwise(ALGORITHMS.get("dpo")(), model, data, tok.pad_token_id, settings)
