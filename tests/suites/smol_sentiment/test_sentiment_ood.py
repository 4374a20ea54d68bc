"""Out-of-distribution held-out pairs ("RLHF Deciphered": incorrect generalisation): their prompts share
no template and no subject with any train or held-out prompt, and the reward-model table reports a
learner's accuracy on them beside its in-distribution accuracy."""

from __future__ import annotations

from prefzoo.benchmarks.suites.lm.reward_report import reward_model_rows
from prefzoo.benchmarks.suites.smol_sentiment.data import SUBJECTS, TEMPLATES, DataSettings, make_prompts
from prefzoo.benchmarks.suites.smol_sentiment.ood import OOD_SUBJECTS, OOD_TEMPLATES, ood_file_name, ood_prompts
from tests.helpers import lm_result, lm_results


def test_the_out_of_distribution_prompts_share_no_template_or_subject_with_training():
    settings = DataSettings()
    ood = [c[1]["content"] for c in ood_prompts(settings)]
    assert len(ood) == settings.eval_prompts == len(set(ood))
    assert not set(OOD_SUBJECTS) & set(SUBJECTS) and not set(OOD_TEMPLATES) & set(TEMPLATES)
    seen = [m[1]["content"] for part in make_prompts(settings) for m in part]
    for prompt in ood:
        assert not any(s in prompt for s in SUBJECTS), prompt  # no training subject inside it either
    for prompt in seen:
        assert not any(s in prompt for s in OOD_SUBJECTS), prompt
    assert ood == [c[1]["content"] for c in ood_prompts(settings)]  # fixed draws
    assert ood_file_name("k").startswith("k-ood-") and ood_file_name("k") != ood_file_name("j")


def _doc(seed, accuracy, ood=None):
    reward = {"pairs": 8, "pair_accuracy": accuracy, "pair_accuracy_ci": [0, 1], "correlation": 0.5,
              "correlation_ci": [0, 1], "ece": 0.1}
    return lm_results(lm_result(
        algorithm="bt", hash="h", seed=seed, config={"alpha": 1e-3}, paper="p",
        settings={"data": {"label_temperature": 0.1}}, train={"pairs": 96, "epochs": 3, "wall_time_s": 10.0},
        eval={"reward": reward, **({"reward_ood": {**reward, "pair_accuracy": ood}} if ood is not None else {})}))[0]


def test_the_reward_model_table_shows_out_of_distribution_accuracy_where_every_seed_has_it():
    headers, rows = reward_model_rows([_doc(0, 0.8, 0.6), _doc(1, 0.9, 0.7)])
    column = headers.index("out-of-distribution pair accuracy (gold)")
    assert headers[column - 1] == "held-out pair accuracy (gold)"
    assert rows[0][column - 1].startswith("0.850 ± ") and rows[0][column].startswith("0.650 ± ")
    _, rows = reward_model_rows([_doc(0, 0.8, 0.6), _doc(1, 0.9)])  # a seed without: no mean of the others
    assert rows[0][column] == "—"
