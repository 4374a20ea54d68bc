"""The typed result document: what every suite's result file holds, with a schema version, read through
one migration so that every result file ever written keeps working.

The documents are frozen standard-library dataclasses, so a report reads ``doc.eval.gold_reward.mean``
and a misspelt or renamed field fails where it is read. pydantic (already installed with typer) builds
and checks them from JSON: nested types, missing and unknown keys refused with the path of the field,
no hand-written parser. A suite subclasses ``ResultDocument`` with its own fields and extends
``migrate`` with the steps its older files need.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

SCHEMA_VERSION = 2
"""1: the files written before the document had a type (no ``schema`` key). 2: ``schema`` is written, and
LM results record the data options they ran under (``data_options``)."""

FORBID = {"extra": "forbid"}  # an unknown key is a renamed or misspelt field, never silently dropped

D = TypeVar("D", bound="ResultDocument")


class DocumentError(ValueError):
    """A result file that does not match its suite's document type."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """A metric's mean with its 95% interval over ``n`` values (prompts, pairs, or samples)."""

    __pydantic_config__ = FORBID
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class TuningRecord:
    """How ``--tune`` selected a config from its ``trials`` (trial 1 the defaults): the search ``space``
    (field → [low, high, scale]), the ``selected`` trial and, under ``harness.selection``'s ``rule``
    (None: the best mean outright), the ``best`` trial with its paired ``gain`` over the defaults and the
    validation ``noise`` it had to exceed. A suite's record adds its validation protocol and candidates."""

    __pydantic_config__ = FORBID
    trials: int
    space: dict[str, list[Any]]
    selected: int
    rule: str | None = None
    best: int | None = None
    gain: float | None = None
    noise: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResultDocument:
    """One (suite, algorithm, config, seed) cell's result. ``config`` is the algorithm's ``Config.to_dict()``
    and ``settings`` the suite's settings, both kept as written: together they are the cell's identity
    (``hash``), and a settings layout of an older version must hash as it did then."""

    __pydantic_config__ = FORBID
    schema: int = SCHEMA_VERSION
    suite: str
    algorithm: str
    family: str
    paper: str
    origin: str
    seed: int
    hash: str
    config: dict[str, Any]
    settings: dict[str, Any]
    prefzoo_version: str

    suites: ClassVar[tuple[str, ...]] = ()
    """The suites whose files this type reads (empty: any)."""

    @classmethod
    def migrate(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """``raw`` (a result file's JSON of any schema up to ``SCHEMA_VERSION``) as the current schema.
        Subclasses add their own steps and call this first."""
        doc = dict(raw)
        version = doc.get("schema", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise DocumentError(f"schema {version!r} is newer than this prefzoo reads ({SCHEMA_VERSION}): "
                                "upgrade prefzoo")
        doc["schema"] = SCHEMA_VERSION
        return doc

    @classmethod
    def parse(cls: type[D], raw: Mapping[str, Any], source: Path | str | None = None) -> D:
        """The typed document of ``raw`` after ``migrate``; ``DocumentError`` naming ``source`` and each
        field that does not match."""
        import pydantic

        where = f"{source}: " if source else ""
        try:
            return _adapter(cls).validate_python(cls.migrate(raw))
        except DocumentError as exc:
            raise DocumentError(f"{where}{exc}") from None
        except pydantic.ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}"
                                 for e in exc.errors()[:5])
            raise DocumentError(f"{where}not a valid {cls.__name__} ({problems})") from None

    @classmethod
    def checked(cls, doc: Mapping[str, Any]) -> dict[str, Any]:
        """``doc``, about to be written, after checking that it reads back as this type: a writer that
        drifts from the type fails before its file exists."""
        cls.parse(doc)
        return dict(doc)


@functools.cache
def _adapter(cls: type) -> Any:
    import pydantic

    return pydantic.TypeAdapter(cls)
