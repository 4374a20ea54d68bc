"""The LM suites' settings: a profile is everything a run's numbers depend on besides the algorithm's
config, and each named profile is one budget (quick on a CPU, full on a GPU, smoke for `make bench`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from prefzoo.algorithms.engine.data import TokenizationSettings
from prefzoo.algorithms.engine.models import ModelSettings
from prefzoo.algorithms.engine.online import OnlineSettings
from prefzoo.algorithms.engine.pairwise import TrainSettings
from prefzoo.algorithms.engine.rl import RLSettings
from prefzoo.benchmarks.suites.lm.data_settings import DataSettings

REFERENCE = "reference"
ENGINE_REVISION = 2
"""Part of every LM result's hash; raised when the engine's arithmetic changes, so a rerun recomputes
every cell instead of reusing one it would no longer reproduce. 2: nf4 layers are never repacked for
CPU inference (``keep_4bit_differentiable``); results of revision 1 trained through the repacked
layers on CPUs with AVX-512 BF16."""
CUDA_ENGINE_REVISION = 3
"""The revision of runs on CUDA, where the arithmetic changed and the CPU's did not: 3: norms, embeddings
and the output projection stay in the compute dtype (no float32 upcast), the vocabulary projection runs
in checkpointed row groups, and sampling decodes from a merged compute-dtype copy (``merged_copy``)."""


def engine_revision(device) -> int:
    """The engine revision of a run on ``device`` (part of its results' hash)."""
    return CUDA_ENGINE_REVISION if device.type == "cuda" else ENGINE_REVISION


@dataclass(frozen=True)
class Profile:
    """Everything a run's numbers depend on besides the algorithm's config."""

    data: DataSettings
    train: TrainSettings
    model: ModelSettings = ModelSettings()
    tokenization: TokenizationSettings = TokenizationSettings(max_prompt_length=96, max_completion_length=24)
    samples_per_prompt: int = 1
    """K: policy samples per held-out prompt."""
    eval_batch_size: int = 64
    eval_at: tuple[int, ...] = ()
    """Steps of the budget after which each policy is also evaluated (the last step always is): the points
    of its reward–KL path along training."""
    kl_samples: int = 1
    """Samples per held-out prompt drawn from π at temperature 1 without truncation, on which a policy's
    KL(π‖π_ref) is estimated (``engine.kl``); 0 skips the KL."""
    online: OnlineSettings = OnlineSettings()
    """How the online family spends the same step budget (max_new_tokens: the data's)."""
    reward_epochs: int = 3
    """Epochs of a reward learner over the pairs the step budget reads (IDS updates labels per epoch)."""
    rl: RLSettings = RLSettings()
    """How the RL family spends the same step budget (max_new_tokens: the data's)."""
    reward_labels: float = 1.0
    """The share of the read pairs whose labels reward learning sees (a reward learner's cell and an RL
    algorithm's reward model); a semi-supervised learner (SER) gets the rest without labels."""
    seeds: int = 3
    """Seeds per algorithm (and reference cells) unless ``--seeds`` says otherwise; not part of the hash."""

    def to_dict(self) -> dict:
        return {"data": self.data.to_dict(), "train": self.train.to_dict(), "model": self.model.to_dict(),
                "tokenization": self.tokenization.to_dict(), "samples_per_prompt": self.samples_per_prompt,
                "online": self.online.to_dict(), "reward_epochs": self.reward_epochs, "rl": self.rl.to_dict(),
                # Written only below 1: results from before the label budget existed saw every label.
                **({"reward_labels": self.reward_labels} if self.reward_labels < 1 else {}),
                **({"eval_at": list(self.eval_at)} if self.eval_at else {}),
                # Written only where taken: results from before the KL estimator had none.
                **({"kl_samples": self.kl_samples} if self.kl_samples else {})}


PROFILES = {
    # The CPU profile of the committed leaderboard, which ranks at matched KL: lr 3e-4 × 48 steps of 8
    # pairs, each policy also evaluated after steps 3, 6, 12 and 24. Chosen by measurement so that DPO's
    # path spans the reference to near saturation (KL 0.2 → 20.7 nats, gold 0.48 → 0.96: `KL_LEVELS`);
    # lr 1e-4 × 12 steps, the smallest point of the shared-budget sweep at which DPO beat the reference
    # (`python -m prefzoo.benchmarks.studies.budget_sweep`), kept every loss in its linear regime. Measured
    # on 2 CPU cores with SmolLM2-135M nf4: a step on 8 pairs ≈ 6 s; an evaluation ≈ 37 s; a DPO cell
    # ≈ 4 min, a PPO cell ≈ 20 min; the data (1,856 samples) ≈ 16 min, so its pairs ship.
    "quick": Profile(data=DataSettings(train_prompts=400, eval_prompts=64, max_new_tokens=24),
                     train=TrainSettings(steps=48, batch_size=8, micro_batch_size=8, learning_rate=3e-4),
                     eval_at=(3, 6, 12, 24)),
    "full": Profile(data=DataSettings(train_prompts=900, eval_prompts=256, max_new_tokens=48),
                    train=TrainSettings(steps=300, batch_size=32, micro_batch_size=16, learning_rate=5e-4,
                                        warmup_steps=10, mixed_precision="auto"),
                    model=ModelSettings(gradient_checkpointing="auto"),
                    tokenization=TokenizationSettings(max_prompt_length=96, max_completion_length=48),
                    samples_per_prompt=4, eval_batch_size=128,
                    online=OnlineSettings(prompts_per_round=32, max_new_tokens=48, generation_batch_size=128)),
}
# `make bench` on a CPU: the quick profile's data and learning rate, 4 steps, one seed and no evaluation
# along training. A check that every cell runs end to end, labelled a smoke run on the leaderboard: not
# evidence.
PROFILES["smoke"] = dataclasses.replace(PROFILES["quick"], seeds=1, eval_at=(),
                                        train=dataclasses.replace(PROFILES["quick"].train, steps=4))
