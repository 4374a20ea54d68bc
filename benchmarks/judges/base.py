"""The ``Judge`` interface, and ``make_judge``: from ``--judge NAME[:ARG]`` to a judge that has been
checked before anything trains."""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

Prompt = str | list[dict]
"""A prompt as the data hold it: plain text or a conversation (a list of role/content messages)."""


class JudgeError(ValueError):
    """A judge that cannot be used: unknown, missing a package, or given a bad argument. Raised before
    any training, with one line that says what to change."""


class Judge(ABC):
    """Scores responses to prompts: ``score(prompts, completions)`` is r(x, y), a float64 tensor of
    shape (n,), higher is better.

    ``prefer(prompts, first, second)`` is P(first ≻ second), shape (n,): for a pointwise judge the
    Bradley–Terry link σ((r₁ − r₂)/T) (Bradley & Terry 1952) at the judge's ``temperature``, the scale
    on which its scores are differences of log-odds (1 for a reward model trained with the Bradley–Terry
    loss; 0.1 for a lexicon in [−1, 1], the temperature of smol-sentiment's labeller). A judge that only
    compares (a pairwise LLM judge) overrides ``prefer`` and sets ``pointwise = False``.

    Subclasses set ``summary`` (one line for ``prefzoo list --judges``), ``requires`` (the packages it
    imports, checked before training) and ``takes_argument`` (whether ``NAME:ARG`` is required, optional
    or refused: True, None, False). ``name`` is set by the registry.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    takes_argument: ClassVar[bool | None] = False
    pointwise: ClassVar[bool] = True
    temperature: ClassVar[float] = 1.0

    def __init__(self, argument: str | None = None):
        self.argument = argument

    def check(self) -> None:
        """Refuse a bad argument (a missing file, a model of the wrong kind) with a ``JudgeError``; runs
        before any training. The default accepts."""

    @property
    def spec(self) -> str:
        """``NAME[:ARG]``, as the command line gives it."""
        return f"{self.name}:{self.argument}" if self.argument else self.name

    def fingerprint(self) -> str:
        """What identifies the judge's numbers (part of the hash of every result it scores)."""
        return self.spec

    def describe(self) -> dict[str, Any]:
        """The judge as a result document records it."""
        return {"name": self.name, "spec": self.spec, "fingerprint": self.fingerprint()}

    @abstractmethod
    def score(self, prompts: Sequence[Prompt | None], completions: Sequence[str]) -> torch.Tensor:
        """r(x_i, y_i) for each prompt and completion; float64 of shape (n,)."""

    def prefer(self, prompts: Sequence[Prompt | None], first: Sequence[str], second: Sequence[str]) -> torch.Tensor:
        """P(first_i ≻ second_i); float64 of shape (n,)."""
        r1, r2 = self.score(prompts, first), self.score(prompts, second)
        return torch.sigmoid((r1 - r2) / self.temperature)


def bind_judge(name: str, cls: type) -> None:
    """The registry's check of a judge class: a ``Judge`` subclass; it gets its name here."""
    if not (isinstance(cls, type) and issubclass(cls, Judge)):
        raise TypeError(f"judge {name!r} must be a subclass of prefzoo.benchmarks.judges.base.Judge, got {cls!r}")
    if cls.temperature <= 0:
        raise ValueError(f"judge {name!r}: temperature = {cls.temperature} must be positive")
    cls.name = name


def make_judge(spec: str) -> Judge:
    """The judge ``NAME[:ARG]`` names, checked: an unknown name (with the closest names), a missing
    package, a missing or refused argument and whatever the judge's own ``check`` refuses are each a
    ``JudgeError`` of one line."""
    from prefzoo.registry import JUDGES, PluginLoadError, UnknownNameError

    name, colon, argument = spec.partition(":")
    try:
        cls = JUDGES.get(name.strip())
    except (UnknownNameError, PluginLoadError) as exc:
        raise JudgeError(f"--judge {spec}: {exc}") from None
    missing = [p for p in cls.requires if importlib.util.find_spec(p) is None]
    if missing:
        raise JudgeError(f"--judge {spec}: the {cls.name} judge needs the package{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}, which {'are' if len(missing) > 1 else 'is'} not installed "
                         f"(pip install {' '.join(missing)})")
    if cls.takes_argument is True and not argument:
        raise JudgeError(f"--judge {spec}: the {cls.name} judge needs an argument, {cls.name}:ARG ({cls.summary})")
    if cls.takes_argument is False and colon:
        raise JudgeError(f"--judge {spec}: the {cls.name} judge takes no argument; give --judge {cls.name}")
    judge = cls(argument or None)
    judge.check()
    return judge


def completion_text(completion: str | list[dict]) -> str:
    """A response as a judge reads it: the text, or the contents of a conversation's messages."""
    if isinstance(completion, str):
        return completion
    return "\n".join(m["content"] for m in completion)
