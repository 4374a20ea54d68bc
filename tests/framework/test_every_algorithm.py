"""Contract tests parametrised over the registry (after timm's tests/test_models.py): a new
algorithm is tested here without editing this file."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from prefzoo.algorithms.framework.base import FAMILY_BASES, PairLogps, Pairwise
from prefzoo.algorithms.framework.config import ConfigError, ConfigSweep, field_docs
from prefzoo.registry import ALGORITHMS

NAMES = ALGORITHMS.names()
PAIRWISE = [n for n in NAMES if issubclass(ALGORITHMS.get(n), Pairwise)]


def random_batch(n: int = 16, seed: int = 0, grad: bool = True) -> PairLogps:
    g = torch.Generator().manual_seed(seed)
    lengths = lambda: torch.randint(1, 40, (n,), generator=g).float()  # noqa: E731
    tensors = [-torch.rand(n, generator=g) * 30 - 0.1 for _ in range(4)]
    policy_c, policy_r = (t.clone().requires_grad_(grad) for t in tensors[:2])
    kl = torch.cat([tensors[0] - tensors[3], tensors[1] - tensors[2]])  # responses after another row's prompt
    safe = lambda: torch.randint(0, 2, (n,), generator=g).float()  # noqa: E731
    return PairLogps(policy_c, policy_r, tensors[2], tensors[3], lengths(), lengths(), kl, safe(), safe())


@pytest.mark.parametrize("name", NAMES)
def test_declares_family_paper_and_documented_config(name):
    cls = ALGORITHMS.get(name)
    assert cls.name == name
    assert isinstance(cls, type) and issubclass(cls, FAMILY_BASES[cls.family])
    assert cls.paper, f"{name} names no paper"
    assert inspect.getdoc(cls) and "Eq" in inspect.getdoc(cls), f"{name}'s docstring names no equation"
    assert dataclasses.is_dataclass(cls.Config) and cls.Config.__dataclass_params__.frozen
    docs = field_docs(cls.Config)
    for f in dataclasses.fields(cls.Config):
        assert docs.get(f.name), f"{name}.Config.{f.name} has no docstring"
    if cls.Config.strength is not None:
        assert cls.Config.strength in {f.name for f in dataclasses.fields(cls.Config)}


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips(name):
    cls = ALGORITHMS.get(name)
    config = cls.Config()
    assert cls.Config.from_dict(config.to_dict()) == config
    overrides = [f"{k}={v}" for k, v in config.to_dict().items()]
    assert cls.Config.from_overrides(overrides) == config
    assert config.config_hash() == cls.Config.from_dict(config.to_dict()).config_hash()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, dataclasses.fields(config)[0].name, 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_config_rejects_out_of_bounds_values_naming_field_and_value(name):
    cls = ALGORITHMS.get(name)
    for f in dataclasses.fields(cls.Config):
        bounds = f.metadata.get("bounds", {})
        bad = [bounds["gt"], bounds["gt"] - 1] if "gt" in bounds else []
        bad += [bounds["ge"] - 0.5] if "ge" in bounds else []
        bad += [bounds["lt"], bounds["lt"] + 1] if "lt" in bounds else []
        bad += [bounds["le"] + 0.5] if "le" in bounds else []
        for value in bad:
            with pytest.raises(ConfigError) as err:
                cls.Config(**{f.name: value})
            assert f".{f.name} = {float(value)!r}" in str(err.value)


@pytest.mark.parametrize("name", PAIRWISE)
def test_pairwise_loss_is_finite_and_moves_the_policy(name):
    cls = ALGORITHMS.get(name)
    batch = random_batch()
    out = cls()(batch)
    assert out.losses.shape == (16,) and torch.isfinite(out.losses).all()
    out.loss.backward()
    grads = torch.cat([batch.policy_chosen.grad, batch.policy_rejected.grad])
    assert torch.isfinite(grads).all() and grads.abs().sum() > 0
    for value in out.metrics.values():
        assert value.shape == (16,)


@pytest.mark.parametrize("name", PAIRWISE)
def test_pairwise_loss_lowers_when_the_chosen_response_gains(name):
    """A descent step on the loss raises the chosen response's log-prob relative to the rejected one."""
    cls = ALGORITHMS.get(name)
    batch = random_batch(seed=3)
    cls()(batch).loss.backward()
    assert (batch.policy_chosen.grad - batch.policy_rejected.grad).sum() < 0


@pytest.mark.parametrize("name", PAIRWISE)
def test_pairwise_loss_broadcasts_over_a_config_sweep(name):
    """The bandit suite computes several configs at once; the result must equal one call per config."""
    cls = ALGORITHMS.get(name)
    field = cls.Config.strength
    if field is None:
        pytest.skip(f"{name} declares no strength field to sweep")
    # A random filter (β-DPO's) draws different pairs per row; the sweep must match without it.
    fixed = {"filter_fraction": 0.0} if hasattr(cls.Config(), "filter_fraction") else {}
    configs = [dataclasses.replace(cls.Config(), **{field: v}, **fixed) for v in (0.2, 0.7, 1.5)]
    base = random_batch(grad=False)
    stacked = PairLogps(*(t.expand(3, -1) for t in dataclasses.astuple(base)))
    swept = cls(ConfigSweep(configs, trailing_dims=1))(stacked).losses
    for i, config in enumerate(configs):
        assert torch.allclose(swept[i], cls(config)(base).losses)
    if fixed:  # with the filter on, every config of the sweep keeps its own share of the batch
        filtering = [dataclasses.replace(c, filter_fraction=0.5) for c in configs]
        kept = (cls(ConfigSweep(filtering, trailing_dims=1))(stacked).losses != 0).sum(-1)
        assert kept.tolist() == [base.policy_chosen.shape[-1] // 2] * 3


def test_base_config_rejects_wrong_types():
    from prefzoo.algorithms.dpo import DPO

    with pytest.raises(ConfigError, match=r"DPO.Config.beta = '0.1': expected float"):
        DPO.Config(beta="0.1")
    with pytest.raises(ConfigError, match="expected float"):
        DPO.Config(beta=True)
    assert DPO.Config(beta=1).beta == 1.0 and isinstance(DPO.Config(beta=1).beta, float)


def test_named_bounds_of_the_issue():
    from prefzoo.algorithms.cdpo import ConservativeDPO
    from prefzoo.algorithms.ipo import IPO
    from prefzoo.algorithms.robust_dpo import RobustDPO

    with pytest.raises(ConfigError, match=r"DPO.Config.beta = 0.0: must be > 0"):
        ALGORITHMS.get("dpo").Config(beta=0)
    with pytest.raises(ConfigError, match=r"IPO.Config.tau = -1.0: must be > 0"):
        IPO.Config(tau=-1)
    with pytest.raises(ConfigError, match=r"RobustDPO.Config.epsilon = 0.5: must be < 0.5"):
        RobustDPO.Config(epsilon=0.5)
    with pytest.raises(ConfigError, match=r"ConservativeDPO.Config.epsilon = -0.1: must be >= 0"):
        ConservativeDPO.Config(epsilon=-0.1)


def test_overrides_parse_and_report_unknown_fields():
    from prefzoo.algorithms.ipo import IPO

    assert IPO.Config.from_overrides(["tau=0.25", "average_log_ratio=false"]) == IPO.Config(tau=0.25, average_log_ratio=False)
    with pytest.raises(ConfigError, match="did you mean 'tau'"):
        IPO.Config.from_overrides(["taus=0.25"])
    with pytest.raises(ConfigError, match=r"IPO.Config.tau = 'abc': expected float"):
        IPO.Config.from_overrides(["tau=abc"])
    with pytest.raises(ConfigError, match="not of the form field=value"):
        IPO.Config.from_overrides(["tau"])
