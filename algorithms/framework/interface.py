"""What every registered algorithm is: a member of one of four families (``Family``), an ``Algorithm``
with a frozen ``Config``, whose losses come back per example (``LossOutput``). The families' own
interfaces are in ``pairwise_family``, ``online_family``, ``rl_family`` and ``reward_family``;
``base`` gathers them."""

from __future__ import annotations

import enum
from abc import ABC
from dataclasses import dataclass, field
from typing import ClassVar

from torch import Tensor

from prefzoo.algorithms.framework.config import AlgorithmConfig, ConfigSweep


class Family(str, enum.Enum):
    PAIRWISE = "pairwise"
    ONLINE = "online-preference"
    RL = "rl-with-reward"
    REWARD = "reward-learning"

    def __str__(self) -> str:
        return self.value


class Algorithm(ABC):
    """Base of every registered algorithm.

    Subclasses set ``family`` (through their family base), ``paper`` (authors, year and arXiv id) and a
    nested frozen ``Config`` dataclass derived from :class:`AlgorithmConfig`. ``name`` is set by the
    registry when the class is registered.
    """

    name: ClassVar[str] = ""
    family: ClassVar[Family]
    paper: ClassVar[str] = ""
    Config: ClassVar[type[AlgorithmConfig]] = AlgorithmConfig
    trains_policy: ClassVar[bool] = True
    """False for a family whose product is not a policy (reward learning): no policy evaluation."""
    has_implicit_reward: ClassVar[bool] = False
    """True when ``implicit_reward`` ranks responses (β·log π/π_ref and kin): held-out pair accuracy."""

    def __init__(self, config: AlgorithmConfig | ConfigSweep | None = None):
        if config is None:
            config = self.Config()
        configs = config.configs if isinstance(config, ConfigSweep) else (config,)
        if not isinstance(configs[0], self.Config):
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__qualname__}, "
                            f"got {type(configs[0]).__qualname__}")
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def state_dict(self) -> dict:
        """Running statistics a stateful loss keeps across steps (BCO's reward shift, β-DPO's margin
        averages), as JSON-able values; empty for a stateless one. One instance trains one run, so the
        state is per run; the LM suite saves it beside the adapter (``algorithm_state.json``)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (to resume a run)."""


@dataclass
class LossOutput:
    """Per-example losses (same shape as the inputs, not reduced) and per-example diagnostics.

    The family loop reduces and logs; keeping the batch axis lets it weight, mask and accumulate.
    """

    losses: Tensor
    metrics: dict[str, Tensor] = field(default_factory=dict)

    @property
    def loss(self) -> Tensor:
        return self.losses.mean()


def bind_algorithm(name: str, cls: object) -> None:
    """The algorithm registry's check of an entry (``prefzoo.registry.ALGORITHMS``): a concrete subclass
    of ``Algorithm`` with an ``AlgorithmConfig``; it learns its registered name."""
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise TypeError(f"algorithm {name!r}: {cls!r} is not a subclass of prefzoo.Algorithm")
    if getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"algorithm {name!r}: {cls.__qualname__} leaves abstract {sorted(cls.__abstractmethods__)}")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, AlgorithmConfig)):
        raise TypeError(f"algorithm {name!r}: {cls.__qualname__}.Config must derive from AlgorithmConfig")
    cls.name = name
