"""The algorithm reference page, ``docs/algorithms.md``, generated from the registry so it cannot drift:
each registered algorithm's name, family, paper, docstring (its equation and shapes) and config fields
with their types, defaults, bounds and docstrings.

Regenerate with ``python -m prefzoo.algorithms.framework.reference docs/algorithms.md`` (``make docs``);
``tests/framework/test_docs.py`` fails while the committed page differs from what this prints.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from pathlib import Path

from prefzoo.algorithms.framework.config import field_docs
from prefzoo.algorithms.framework.interface import Family
from prefzoo.registry import ALGORITHMS

_BOUND_SIGNS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def _bounds(field: dataclasses.Field) -> str:
    bounds = field.metadata.get("bounds", {})
    parts = [f"{_BOUND_SIGNS[k]} {v:g}" for k, v in bounds.items() if k in _BOUND_SIGNS]
    choices = bounds.get("choices")
    if choices is not None:
        parts.append("one of the registered names" if callable(choices) else
                     "one of " + ", ".join(f"`{c}`" for c in choices))
    return "; ".join(parts)


def _type_name(annotation) -> str:
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_rows(config_cls: type) -> list[list[str]]:
    """One row per config field: name, type, default, bounds, its docstring's first line."""
    hints = typing.get_type_hints(config_cls)
    docs = field_docs(config_cls)
    return [[f"`{f.name}`", _cell(_type_name(hints.get(f.name, f.type))), _cell(f"`{f.default!r}`"),
             _cell(_bounds(f)), _cell(docs.get(f.name, ""))] for f in dataclasses.fields(config_cls)]


def reference_page() -> str:
    """The Markdown of the page: a table of contents by family, then one section per algorithm."""
    algorithms = ALGORITHMS.load_all()
    lines = ["# Algorithm reference", "",
             "Generated from the registry by `python -m prefzoo.algorithms.framework.reference` (`make docs`); "
             "do not edit by hand. Each section is the algorithm's docstring, its paper and its `Config`.", ""]
    for family in Family:
        names = sorted(n for n, cls in algorithms.items() if cls.family == family)
        if names:
            lines.append(f"- **{family}**: " + ", ".join(f"[`{n}`](#{n})" for n in names))
    for name in sorted(algorithms):
        cls = algorithms[name]
        lines += ["", f'<a id="{name}"></a>', "", f"## `{name}` — {cls.family}", "",
                  f"Paper: {cls.paper or '—'}. Class `{cls.__module__}.{cls.__qualname__}`.", "",
                  inspect.cleandoc(cls.__doc__ or "(no docstring)"), ""]
        rows = config_rows(cls.Config)
        if rows:
            lines += ["| field | type | default | bounds | meaning |", "|---|---|---|---|---|"]
            lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = reference_page()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
