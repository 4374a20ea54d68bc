"""Typed registries with decorator registration and lazily loaded plugins (after lm-eval's ``Registry``).

Built-ins are found by importing every top-level module of a package (``prefzoo.algorithms``): a module
registers its classes with a decorator, so there is no second list to keep. Third-party packages
declare entry points in a group (``prefzoo.algorithms``); those are imported only when first asked
for. A plugin that fails to import is recorded with its error and reported, never raised while
listing.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as metadata
import pkgutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """Base of the registry's errors."""


class UnknownNameError(RegistryError):
    """No entry of that name; the message suggests the closest names."""


class DuplicateNameError(RegistryError):
    """Two origins claim one name; the message names both."""


class PluginLoadError(RegistryError):
    """A plugin could not be imported or is not a valid entry; the message names its origin."""


@dataclass
class Entry(Generic[T]):
    """One registered name: the object once loaded, or the entry point that will load it."""

    name: str
    origin: str
    value: T | None = None
    entry_point: metadata.EntryPoint | None = None
    error: str | None = None
    traceback: str | None = None


class Registry(Generic[T]):
    """A name → object mapping of one ``kind`` of thing.

    ``builtins``: a package whose modules register their objects when imported; imported on first use.
    ``group``: an entry-point group whose entries (``name = "module:attr"``) are loaded lazily.
    ``on_register(name, obj)``: validates an object (raise ``TypeError``/``ValueError``) and binds it to
    its name; it runs for decorated and entry-point objects alike. Given as ``"module:attr"``, it is
    imported on first use: the registry names what it lists and validates only by such strings, so it
    imports nothing of prefzoo's and every layer can import it.
    """

    def __init__(self, kind: str, *, builtins: str | None = None, group: str | None = None,
                 on_register: Callable[[str, T], None] | str | None = None):
        self.kind = kind
        self.builtins = builtins
        self.group = group
        self._on_register = on_register
        self._entries: dict[str, Entry[T]] = {}
        self._failures: list[Entry[T]] = []
        self._discovered = False
        self._discovering = False

    @property
    def on_register(self) -> Callable[[str, T], None] | None:
        if isinstance(self._on_register, str):
            module, _, attr = self._on_register.partition(":")
            self._on_register = getattr(importlib.import_module(module), attr)
        return self._on_register

    # ------------------------------------------------------------------ registration
    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("dpo")``. A name claimed twice is a :class:`DuplicateNameError`."""

        def decorate(obj: T) -> T:
            origin = _origin_of(obj)
            existing = self._entries.get(name)
            if existing is not None and not self._resolves(existing, obj):
                raise DuplicateNameError(f"{self.kind} {name!r} is registered twice: by {existing.origin} "
                                         f"and by {origin}")
            if self.on_register is not None:
                self.on_register(name, obj)
            if existing is not None:  # the entry point that is importing this module
                existing.value = obj
            else:
                self._entries[name] = Entry(name, origin, value=obj)
            return obj

        return decorate

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"module:attr"`` under ``name`` without importing it (for heavy built-ins)."""
        if name in self._entries:
            raise DuplicateNameError(f"{self.kind} {name!r} is registered twice: by {self._entries[name].origin} "
                                     f"and by {target}")
        ep = metadata.EntryPoint(name=name, value=target, group="")
        self._entries[name] = Entry(name, f"prefzoo ({target})", entry_point=ep)

    @staticmethod
    def _resolves(entry: Entry, obj: object) -> bool:
        """True when ``obj`` is what a not-yet-loaded entry point names (its module decorates it)."""
        ep = entry.entry_point
        return (ep is not None and entry.value is None and ep.module == obj.__module__
                and ep.attr == getattr(obj, "__qualname__", None))

    # ------------------------------------------------------------------ discovery
    def _discover(self) -> None:
        if self._discovered or self._discovering:
            return
        self._discovering = True
        try:
            if self.builtins:
                # Top-level modules only: subpackages (the training engine) are infrastructure, and
                # importing them would load transformers just to list names.
                package = importlib.import_module(self.builtins)
                for info in pkgutil.iter_modules(package.__path__, prefix=f"{self.builtins}."):
                    if not info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_"):
                        importlib.import_module(info.name)
            if self.group:
                eps = sorted(metadata.entry_points(group=self.group),
                             key=lambda ep: (_dist_name(ep), ep.name))
                for ep in eps:
                    origin = f"entry point {ep.name} = {ep.value} (distribution {_dist_name(ep)})"
                    if ep.name in self._entries:
                        self._failures.append(Entry(ep.name, origin, error=(
                            f"{self.kind} {ep.name!r} is registered twice: by {self._entries[ep.name].origin} "
                            f"and by {origin}; the second is ignored")))
                    else:
                        self._entries[ep.name] = Entry(ep.name, origin, entry_point=ep)
            self._discovered = True
        finally:
            self._discovering = False

    def _load(self, entry: Entry[T]) -> T:
        if entry.value is not None:
            return entry.value
        if entry.error is None:
            try:
                obj = entry.entry_point.load()
                if entry.value is None:  # the module did not decorate it: register it here
                    if self.on_register is not None:
                        self.on_register(entry.name, obj)
                    entry.value = obj
            except Exception as exc:  # a broken plugin must not take the registry down
                entry.error = f"{type(exc).__name__}: {exc}"
                entry.traceback = traceback.format_exc()
        if entry.error is not None:
            raise PluginLoadError(f"{self.kind} {entry.name!r} from {entry.origin} failed to load: {entry.error}")
        return entry.value

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> T:
        """The object registered as ``name``, importing its plugin on first use."""
        self._discover()
        entry = self._entries.get(name)
        if entry is None:
            known = sorted(self._entries)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (registered: {', '.join(known)})")
        return self._load(entry)

    def names(self) -> list[str]:
        """Every registered name, loaded or not."""
        self._discover()
        return sorted(self._entries)

    def origin(self, name: str) -> str:
        self._discover()
        return self._entries[name].origin

    def load_all(self) -> dict[str, T]:
        """Load every entry; those that fail are left out and reported by :meth:`failures`."""
        loaded = {}
        for name in self.names():
            try:
                loaded[name] = self._load(self._entries[name])
            except PluginLoadError:
                pass
        return loaded

    def failures(self) -> list[Entry[T]]:
        """Entries that failed to load or clashed with an existing name, with their errors."""
        self._discover()
        return self._failures + [e for e in self._entries.values() if e.error is not None]

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _origin_of(obj: object) -> str:
    module, qualname = obj.__module__, getattr(obj, "__qualname__", repr(obj))
    if module.startswith("prefzoo."):
        return f"built-in ({module.removeprefix('prefzoo.').replace('.', '/')}.py)"
    return f"{module}.{qualname}"


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown"


ALGORITHMS: Registry[type] = Registry(
    "algorithm", builtins="prefzoo.algorithms", group="prefzoo.algorithms",
    on_register="prefzoo.algorithms.framework.interface:bind_algorithm")
"""Every algorithm: built-ins from ``algorithms/``, third parties from the ``prefzoo.algorithms`` entry-point group."""


SUITES: Registry[type] = Registry("suite", group="prefzoo.suites")
"""Benchmark suites, by name: each a ``Suite`` (``benchmarks/harness/suite.py``); third parties come from the
``prefzoo.suites`` entry-point group."""
SUITES.register_lazy("bandit", "prefzoo.benchmarks.suites.bandit.suite:BanditSuite")
SUITES.register_lazy("smol-sentiment", "prefzoo.benchmarks.suites.smol_sentiment.suite:SmolSentimentSuite")
SUITES.register_lazy("preference-dataset", "prefzoo.benchmarks.suites.lm.suite:PreferenceDatasetSuite")
SUITES.register_lazy("smol-two-factor", "prefzoo.benchmarks.suites.two_factor.suite:SmolTwoFactorSuite")


JUDGES: Registry[type] = Registry(
    "judge", builtins="prefzoo.benchmarks.judges", group="prefzoo.judges",
    on_register="prefzoo.benchmarks.judges.base:bind_judge")
"""What scores a policy's responses (``--judge``): built-ins from ``benchmarks/judges/``, third parties from the
``prefzoo.judges`` entry-point group."""
