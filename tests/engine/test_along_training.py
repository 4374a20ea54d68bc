"""``along_training``: the evaluation callback runs at the declared steps only, and leaves the random
states and the model's mode as they were."""

import random

import torch

from prefzoo.algorithms.engine.along_training import evaluate_at, reached


def test_the_callback_runs_at_its_steps_and_training_sees_the_same_random_draws():
    model = torch.nn.Linear(2, 2)
    model.train()
    seen = []

    def evaluate(step):
        seen.append(step)
        torch.manual_seed(123)  # what sampling does
        random.seed(5)
        model.eval()

    def draws(hooked: bool):
        torch.manual_seed(0)
        random.seed(0)
        out = []
        for step in range(1, 5):
            out.append((torch.rand(1).item(), random.random()))
            if hooked:
                reached(step, model)
        return out

    plain = draws(False)
    with evaluate_at([2, 3], evaluate):
        along = draws(True)
    assert seen == [2, 3] and along == plain and model.training
    reached(2, model)  # outside the block: nothing runs
    assert seen == [2, 3]
