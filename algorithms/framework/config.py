"""Frozen, validated hyperparameter dataclasses shared by every algorithm.

A field is declared with :func:`param`, which records its bounds; the docstring written under the
field (CleanRL style) names the paper's symbol and is read back by :func:`field_docs` for the CLI
and the tests. Validation runs on construction, so an invalid config cannot exist.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import hashlib
import inspect
import json
import textwrap
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar


class ConfigError(ValueError):
    """An invalid hyperparameter: the message names the config class, the field and the value."""


def param(default: Any, *, gt: float | None = None, ge: float | None = None,
          lt: float | None = None, le: float | None = None,
          choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
          search: tuple[float, float, str] | None = None, omit_default: bool = False) -> Any:
    """A config field with its default and the bounds checked on construction. ``choices`` may be a
    callable, read at validation time (the names a registry holds then). ``search`` = (low, high,
    "log" or "linear") is the range ``prefzoo bench --tune`` draws the field from (see ``search_space``).
    ``omit_default``: ``to_dict`` leaves the field out while it holds its default, so a field added to a
    config after results exist does not change their hashes (``from_dict`` fills the default back in)."""
    bounds = {k: v for k, v in dict(gt=gt, ge=ge, lt=lt, le=le, choices=choices).items() if v is not None}
    metadata: dict[str, Any] = {"bounds": bounds, "omit_default": omit_default}
    if search is not None:
        low, high, scale = search
        if not low < high or scale not in ("log", "linear") or (scale == "log" and low <= 0):
            raise ValueError(f"search = {search!r}: expected (low, high, 'log' or 'linear') with low < high "
                             "(and low > 0 on a log scale)")
        metadata["search"] = (float(low), float(high), scale)
    return dataclasses.field(default=default, metadata=metadata)


_RULES = {
    "gt": (lambda v, b: v > b, ">"),
    "ge": (lambda v, b: v >= b, ">="),
    "lt": (lambda v, b: v < b, "<"),
    "le": (lambda v, b: v <= b, "<="),
}


@dataclasses.dataclass(frozen=True)
class AlgorithmConfig:
    """Base of every algorithm's ``Config``: validation, (de)serialisation and a stable hash.

    ``strength`` names the field that sets how strongly the algorithm regularises towards (or away
    from) the reference — β for DPO, τ for IPO. Suites that sweep the regularisation read it, so a new
    algorithm joins such sweeps by declaring it.
    """

    strength: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = hints[f.name]
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            if not _is_instance(value, expected):
                raise ConfigError(f"{self._where(f.name)} = {value!r}: expected {_type_name(expected)}")
            for rule, bound in f.metadata.get("bounds", {}).items():
                if rule == "choices":
                    bound = list(bound() if callable(bound) else bound)  # a callable: e.g. registry names
                    if value not in bound:
                        close = difflib.get_close_matches(str(value), [str(b) for b in bound], n=1)
                        hint = f" (did you mean {close[0]!r}?)" if close else ""
                        raise ConfigError(f"{self._where(f.name)} = {value!r}: must be one of {bound}{hint}")
                elif not _RULES[rule][0](value, bound):
                    raise ConfigError(f"{self._where(f.name)} = {value!r}: must be {_RULES[rule][1]} {bound}"
                                      + _doc_suffix(type(self), f.name))

    def _where(self, name: str) -> str:
        return f"{type(self).__qualname__}.{name}"

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        for f in dataclasses.fields(self):
            if f.metadata.get("omit_default") and values[f.name] == f.default:
                del values[f.name]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        """Build a config from a mapping; an unknown key is an error with the closest field name."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                hint = difflib.get_close_matches(key, names, n=1)
                raise ConfigError(f"{cls.__qualname__} has no field {key!r}"
                                  + (f"; did you mean {hint[0]!r}?" if hint else f"; fields: {names}"))
        return cls(**values)

    @classmethod
    def from_overrides(cls, overrides: Sequence[str], base: AlgorithmConfig | None = None):
        """Apply ``field=value`` strings (as typed on a command line) to ``base`` or the defaults."""
        values = dataclasses.asdict(base or cls())  # every field, those ``to_dict`` omits too
        hints = typing.get_type_hints(cls)
        for item in overrides:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"{cls.__qualname__}: override {item!r} is not of the form field=value")
            if key not in hints or key not in values:
                cls.from_dict({key: None})  # raises the did-you-mean error
            values[key] = _parse(raw.strip(), hints[key], f"{cls.__qualname__}.{key}")
        return cls.from_dict(values)

    def config_hash(self) -> str:
        """Eight hex digits that identify the values of every field."""
        payload = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:8]


def changed_fields(config: AlgorithmConfig) -> str:
    """The fields of ``config`` that differ from its class's defaults, as a JSON object ("" when none
    differ): how one algorithm's config names another's (an RL algorithm's reward learner, the policy a
    reward is extracted from) without changing the hash of the default."""
    defaults = type(config)().to_dict()
    changed = {k: v for k, v in config.to_dict().items() if defaults.get(k) != v}
    return json.dumps(changed, sort_keys=True) if changed else ""


def named_with_changes(name: str, changes: str) -> str:
    """``name`` with the fields of ``changes`` (a JSON object, as ``changed_fields`` writes it) in brackets,
    ``salmon-rm[negation=0.0]``; ``name`` alone when nothing changed. How a row names a configured learner."""
    if not changes:
        return name
    return f"{name}[{', '.join(f'{k}={v}' for k, v in json.loads(changes).items())}]"


def config_from_changes(cls: type[AlgorithmConfig], changes: str, where: str) -> AlgorithmConfig:
    """``cls``'s defaults with the JSON object ``changes`` (as ``changed_fields`` writes it) applied;
    ``where`` names the field that holds it in an error."""
    if not changes:
        return cls()
    try:
        values = json.loads(changes)
    except json.JSONDecodeError as exc:
        values = exc
    if not isinstance(values, dict):
        raise ConfigError(f"{where} = {changes!r}: expected a JSON object of {cls.__qualname__}'s fields")
    return cls.from_dict(values)


def replace_fields(settings: Any, overrides: Sequence[str], where: str, frozen: Sequence[str] = ()) -> Any:
    """A copy of the dataclass ``settings`` with ``field=value`` strings applied (as typed on a command
    line, parsed to each field's type); an unknown field, or one of ``frozen``, is an error naming the
    closest field."""
    hints = typing.get_type_hints(type(settings))
    names = [f.name for f in dataclasses.fields(settings) if f.name not in frozen]
    values = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{where}: {item!r} is not of the form field=value")
        if key not in names:
            hint = difflib.get_close_matches(key, names, n=1)
            raise ConfigError(f"{where}: no field {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                              + f" (fields: {', '.join(names)})")
        values[key] = _parse(raw.strip(), hints[key], f"{where} {key}")
    try:
        return dataclasses.replace(settings, **values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _is_instance(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_is_instance(value, arm) for arm in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected in (int, float) and isinstance(value, bool):
        return False
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    return isinstance(value, origin or expected)


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", str(expected))


def _parse(raw: str, expected: Any, where: str) -> Any:
    if expected is bool:
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"{where} = {raw!r}: expected true or false")
    if expected in (int, float):
        try:
            return expected(raw)
        except ValueError:
            raise ConfigError(f"{where} = {raw!r}: expected {expected.__name__}") from None
    return raw


def _doc_suffix(cls: type, name: str) -> str:
    doc = field_docs(cls).get(name)
    return f" ({doc})" if doc else ""


@functools.cache
def field_docs(cls: type, whole: bool = False) -> dict[str, str]:
    """The docstring written under each dataclass field, by field name: its first line, or with ``whole``
    all of it as one line."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body
        for node, following in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                lines = inspect.cleandoc(following.value.value).splitlines()
                docs[node.target.id] = " ".join(lines) if whole else lines[0]
    return docs


class ConfigSweep:
    """Several configs of one class seen as one, for computing a loss for all of them at once.

    A field whose value is the same in every config stays a Python scalar; a field that differs
    becomes a float tensor of shape ``(C, 1, ..., 1)`` (``trailing_dims`` ones), so a loss written
    for scalar hyperparameters broadcasts over a leading config axis of its inputs. Each config was
    validated on its own construction.
    """

    def __init__(self, configs: Sequence[AlgorithmConfig], trailing_dims: int):
        import torch

        if not configs or len({type(c) for c in configs}) != 1:
            raise ValueError("a sweep needs one or more configs of the same class")
        self.configs = tuple(configs)
        self.swept: list[str] = []
        for f in dataclasses.fields(configs[0]):
            values = [getattr(c, f.name) for c in configs]
            if all(v == values[0] for v in values):
                setattr(self, f.name, values[0])
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                setattr(self, f.name, torch.tensor(values, dtype=torch.float32).view(-1, *[1] * trailing_dims))
                self.swept.append(f.name)
            else:
                raise ConfigError(f"{type(configs[0]).__qualname__}.{f.name}: only numeric fields can be swept, "
                                  f"got {values!r}")
