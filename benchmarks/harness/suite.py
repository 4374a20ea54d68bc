"""The suite contract: what ``prefzoo bench``, ``prefzoo suites`` and ``prefzoo leaderboard`` call on a
suite, the typed options a run takes, and the typed documents its reports read.

A suite's options are the fields of its ``Options`` dataclass, each with its docstring under it. That is
the one declaration: ``prefzoo bench`` builds its suite flags from it (``--labeller-temperature`` from
``labeller_temperature``), ``prefzoo suites`` and ``prefzoo bench --help`` list it, ``Suite.options``
validates a request against it, and the run reads the typed instance. A new suite option is one field.

A suite's results are instances of its ``Document`` type (``harness.documents``): its tables, plot and
leaderboard section read those, never a result file's raw keys.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from prefzoo.algorithms.framework.config import AlgorithmConfig, field_docs
from prefzoo.algorithms.framework.interface import Algorithm, Family
from prefzoo.benchmarks.harness.backends import SERIAL, Backend
from prefzoo.benchmarks.harness.documents import ResultDocument

Table = tuple[str, list[str], list[list[str]]]
"""A titled table: (title, headers, rows of cells)."""


def cli_only(default: Any = None) -> Any:
    """A field the CLI fills from flags of its own (``--backend``, ``--address``, ...), not a suite flag."""
    return dataclasses.field(default=default, metadata={"flag": False})


def at_least(minimum: int, default: Any = None) -> Any:
    """A field whose flag takes whole numbers ≥ ``minimum`` (the CLI refuses others before any work)."""
    return dataclasses.field(default=default, metadata={"min": minimum})


@dataclasses.dataclass(frozen=True, kw_only=True)
class SuiteOptions:
    """The options every suite takes; a suite's ``Options`` derives from this and adds its own fields."""

    seeds: int | None = None
    """Seeds per algorithm (the suite's default if unset)."""
    seed: int = 0
    """The first seed: seeds run from ``seed`` to ``seed + seeds − 1``."""
    steps: int | None = None
    """Optimiser steps (the suite's default if unset)."""
    backend: Backend = cli_only(SERIAL)
    """Where the cells run (``--backend``, ``--address``, ``--gpus-per-cell``, ``--cpus-per-cell``)."""


def flag(name: str) -> str:
    """The command-line flag of an option field: ``labeller_temperature`` → ``--labeller-temperature``."""
    return "--" + name.replace("_", "-")


def option_fields(options: type[SuiteOptions]) -> list[tuple[dataclasses.Field, Any, str]]:
    """The option fields a suite takes as flags: (field, its type, its docstring)."""
    hints, docs = typing.get_type_hints(options), field_docs(options, whole=True)
    return [(f, hints[f.name], docs.get(f.name, "")) for f in dataclasses.fields(options)
            if f.metadata.get("flag", True)]


def is_required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def without_none(annotation) -> Any:
    """``X`` of an ``X | None`` annotation; any other annotation as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _from_text(name: str, value: Any, annotation) -> Any:
    """A tuple option given as comma-separated text (as typed on a command line) as its tuple."""
    kind = without_none(annotation)
    if not isinstance(value, str) or typing.get_origin(kind) is not tuple:
        return value
    item = typing.get_args(kind)[0]
    try:
        return tuple(item(v.strip()) for v in value.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{flag(name)} {value!r}: expected comma-separated {item.__name__} values") from None


class Suite(ABC):
    """A benchmark suite: it trains algorithms of its ``families`` on one kind of data and budget, writes
    one result document per cell, and renders its leaderboard section from those documents alone."""

    name: ClassVar[str]
    families: ClassVar[tuple[Family, ...]]
    Options: ClassVar[type[SuiteOptions]] = SuiteOptions
    Document: ClassVar[type[ResultDocument]] = ResultDocument
    """The type of its result documents: ``execute`` writes them, ``read`` parses them for the reports."""
    order: ClassVar[int] = 50
    """Where its headline and section stand on the leaderboard (smaller first)."""

    def read(self, raws: Iterable[Mapping[str, Any] | tuple[Path, Mapping[str, Any]]]) -> list[ResultDocument]:
        """Result files' JSON (or (path, JSON) pairs, so that an error names the file) as typed documents of
        the current schema (``Document.parse``, which migrates older files)."""
        return [self.Document.parse(raw[1], raw[0]) if isinstance(raw, tuple) else self.Document.parse(raw)
                for raw in raws]

    @classmethod
    def options(cls, **given: Any) -> SuiteOptions:
        """The typed options of a request, refused with the flag's name where the suite does not take an
        option or needs one that is missing."""
        fields = {f.name: f for f in dataclasses.fields(cls.Options)}
        for name in given:
            if name not in fields:
                raise ValueError(f"suite {cls.name!r} does not take {flag(name)}")
        for name, field in fields.items():
            if is_required(field) and name not in given:
                raise ValueError(f"suite {cls.name!r} needs {flag(name)}")
        hints = typing.get_type_hints(cls.Options)
        return cls.Options(**{name: _from_text(name, value, hints[name]) for name, value in given.items()})

    def run(self, algorithms: Sequence[type[Algorithm]], results_root: Path, *,
            base_configs: dict[str, AlgorithmConfig] | None = None,
            progress: Callable[[int, int], None] | None = None, log: Callable[[str], None] = print,
            **options: Any) -> list[dict[str, Any]]:
        """Train and evaluate ``algorithms`` with the options given as keywords (the ``Options`` fields);
        write one result file per cell under ``results_root`` and return the documents."""
        return self.execute(algorithms, results_root, self.options(**options), base_configs or {}, progress, log)

    @abstractmethod
    def execute(self, algorithms: Sequence[type[Algorithm]], results_root: Path, options: SuiteOptions,
                base_configs: dict[str, AlgorithmConfig], progress: Callable[[int, int], None] | None,
                log: Callable[[str], None]) -> list[dict[str, Any]]:
        """``run`` with its options validated and typed."""

    def data_options(self, options: SuiteOptions) -> dict[str, Any]:
        """The options that decide what this suite's data can train (``cannot_train``'s keywords)."""
        return {}

    def cannot_train(self, cls: type[Algorithm], **data_options: Any) -> str | None:
        """Why this suite's data cannot train ``cls``, or None: a family run skips it, a named one is refused."""
        return None

    @abstractmethod
    def tables(self, docs: Sequence[ResultDocument]) -> list[Table]:
        """Every table of ``docs``, with all its columns."""

    def terminal_tables(self, docs: Sequence[ResultDocument]) -> list[Table]:
        """The tables ``prefzoo bench`` prints: ``tables`` cut to what a terminal shows without wrapping (by
        default all of them; the result files and the leaderboard keep every column)."""
        return self.tables(docs)

    @abstractmethod
    def plot(self, docs: Sequence[ResultDocument], path: Path) -> Path | None:
        """Write the suite's figure of ``docs`` to ``path`` (None when it has none)."""

    @abstractmethod
    def section(self, docs: Sequence[ResultDocument], out_dir: Path) -> str:
        """The suite's leaderboard section (Markdown), figures written into ``out_dir``."""

    def headline(self, docs: Sequence[ResultDocument]) -> str | None:
        """The suite's short ranking at its main setting for the top of the leaderboard (Markdown), or None
        for a suite without a ranking."""
        return None
