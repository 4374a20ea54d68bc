"""Built-in algorithms, one file each. Every module here registers its classes with
:data:`prefzoo.registry.ALGORITHMS` when imported; the registry imports them all on first use. What they
run on lives in ``framework/`` (the interface and the four families) and ``engine/`` (the LM engine)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# The framework's modules lived here before ``framework/`` existed, and third-party plugins import them
# by those paths (``prefzoo.algorithms.base``). Python has no module alias, so a finder answers the old
# names with the modules themselves (the same objects: classes keep one identity); shim files here would
# sit among the algorithms and be imported by the registry's walk of this folder.
_MOVED = {f"{__name__}.{m}": f"{__name__}.framework.{m}" for m in (
    "base", "config", "interface", "pairwise_family", "online_family", "rl_family", "reward_family",
    "search_space", "unpaired")}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in _MOVED else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # The import system returns whatever sys.modules holds under the name once this returns.
        sys.modules[module.__name__] = importlib.import_module(_MOVED[module.__name__])


sys.meta_path.append(_MovedModules())
