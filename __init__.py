"""prefzoo: preference-optimisation algorithms behind one interface, ranked on the same data.

Everything an algorithm file needs is importable from here::

    from prefzoo import AlgorithmConfig, LossOutput, PairLogps, Pairwise, param, register

These names load on first use (``import prefzoo`` alone imports no torch), and they stay where they are
whatever the framework's modules are called inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below, for type checkers and the import contracts (``.importlinter``)
    from prefzoo.algorithms.framework.config import (AlgorithmConfig, ConfigSweep, changed_fields,
                                                     config_from_changes, param)
    from prefzoo.algorithms.framework.interface import Algorithm, Family, LossOutput
    from prefzoo.algorithms.framework.online_family import OnlinePreference, PairOrigins, Sampler
    from prefzoo.algorithms.framework.pairwise_family import PairLogps, Pairwise
    from prefzoo.algorithms.framework.reward_family import RewardLearning
    from prefzoo.algorithms.framework.rl_family import RewardModelChoice, RLWithReward, Rollout
    from prefzoo.algorithms.framework.unpaired import UnpairedLogps
    from prefzoo.registry import ALGORITHMS

__version__ = "0.1.0"

API = {
    "Algorithm": "interface", "Family": "interface", "LossOutput": "interface",
    "Pairwise": "pairwise_family", "PairLogps": "pairwise_family",
    "OnlinePreference": "online_family", "PairOrigins": "online_family", "Sampler": "online_family",
    "RLWithReward": "rl_family", "Rollout": "rl_family", "RewardModelChoice": "rl_family",
    "RewardLearning": "reward_family", "UnpairedLogps": "unpaired",
    "AlgorithmConfig": "config", "ConfigSweep": "config", "param": "config", "changed_fields": "config",
    "config_from_changes": "config",
}
"""Each name of the plugin API and the ``prefzoo.algorithms.framework`` module that defines it; with
``ALGORITHMS`` and ``register`` (``ALGORITHMS.register``) from ``prefzoo.registry``."""
__all__ = [*API, "ALGORITHMS", "register", "__version__"]


def __getattr__(name: str):
    if name in ("ALGORITHMS", "register"):
        from prefzoo.registry import ALGORITHMS

        return ALGORITHMS if name == "ALGORITHMS" else ALGORITHMS.register
    if name in API:
        import importlib

        return getattr(importlib.import_module(f"prefzoo.algorithms.framework.{API[name]}"), name)
    raise AttributeError(f"module 'prefzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
