"""Reading a user's local preference file (.jsonl, .json, .csv, .parquet) with errors in the file's own
terms: line numbers, the file's column names, and what was expected.

Local files are read here rather than through ``datasets.load_dataset``, which numbers rows after its
own reordering, fills a missing field with None (so a message cannot tell a missing field from a
present one), raises tracebacks for invalid JSON lines, empty files and non-UTF-8 bytes, and writes cache
folders under ``$HF_HOME`` even for a file it then refuses. Nothing here writes anything.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefzoo.algorithms.engine.data import COLUMNS, DatasetError
from prefzoo.algorithms.engine.unpaired_data import UNPAIRED_COLUMNS

FORMATS = (".jsonl", ".json", ".csv", ".parquet")


@dataclass
class UserRows:
    """The rows of a file, the file's columns in order, and where each row is ("line 18 (row 17)")."""

    rows: list[dict[str, Any]]
    columns: list[str]
    where: list[str]


def parse_columns(items: str | None) -> dict[str, str]:
    """``prompt=question,chosen=good,rejected=bad`` → {"prompt": "question", ...}; keys must be columns
    prefzoo expects."""
    mapping: dict[str, str] = {}
    for item in (items or "").split(","):
        if not item.strip():
            continue
        target, sep, source = (p.strip() for p in item.partition("="))
        if not sep or not source or target not in COLUMNS + UNPAIRED_COLUMNS[1:]:
            raise DatasetError(f"--columns {item!r}: expected COLUMN=YOUR_COLUMN with COLUMN one of "
                               f"{', '.join(COLUMNS + UNPAIRED_COLUMNS[1:])}, e.g. prompt=question")
        mapping[target] = source
    return mapping


def read_user_file(path: Path, columns: Mapping[str, str] | None = None) -> UserRows:
    """Read ``path`` and map its columns; refuse what cannot be a preference file, naming the line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.is_dir():
        raise DatasetError(f"{path}: a folder; give a file ({', '.join(FORMATS)})")
    if path.suffix not in FORMATS:
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(FORMATS)}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise DatasetError(f"{path}: not a readable parquet file ({exc})") from None
        rows = table.to_pylist()
        data = UserRows(rows, list(table.column_names), [f"row {i}" for i in range(len(rows))])
    else:
        # A UTF-8 byte-order mark (Windows tools, Excel's "CSV UTF-8") is encoding, not data: left in, it
        # would make the first CSV header "\ufeffprompt" and the first JSON line invalid.
        raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DatasetError(f"{path}, line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8; "
                               "save the file as UTF-8") from None
        if not text.strip():
            raise DatasetError(f"{path}: the file is empty")
        data = _read_csv(path, text) if path.suffix == ".csv" else _read_json(path, text)
    return _map_columns(path, data, dict(columns or {}))


def _read_json(path: Path, text: str) -> UserRows:
    stripped = text.lstrip()
    if path.suffix == ".json" and stripped.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
        rows, where = values, [f"row {i}" for i in range(len(values))]
    else:  # JSON lines (datasets reads .json files of JSON lines too)
        rows, where = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}, line {number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            where.append(f"line {number} (row {len(rows) - 1})")
    for row, place in zip(rows, where):
        if not isinstance(row, dict):
            raise DatasetError(f"{path}, {place}: expected a JSON object with fields {', '.join(COLUMNS)}, "
                               f"got {type(row).__name__}")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return UserRows(rows, columns, where)


def _read_csv(path: Path, text: str) -> UserRows:
    reader = csv.DictReader(io.StringIO(text))
    rows, where = [], []
    for row in reader:
        if None in row:  # more cells than headers
            raise DatasetError(f"{path}, line {reader.line_num}: more cells than the {len(reader.fieldnames)} "
                               f"headers ({', '.join(reader.fieldnames)})")
        rows.append({k: (v if v != "" else None) for k, v in row.items()})
        where.append(f"line {reader.line_num} (row {len(rows) - 1})")
    return UserRows(rows, list(reader.fieldnames or []), where)


def _map_columns(path: Path, data: UserRows, mapping: dict[str, str]) -> UserRows:
    for target, source in mapping.items():
        if source not in data.columns:
            raise DatasetError(f"{path}: --columns {target}={source}: the file has no column {source!r} "
                               f"(columns: {', '.join(data.columns)})")
    if mapping:
        data.rows = [{**row, **{t: row.get(s) for t, s in mapping.items()}} for row in data.rows]
        data.columns = list(dict.fromkeys([*mapping, *data.columns]))
    if is_unpaired_file(data.columns):
        if "prompt" not in data.columns:
            raise DatasetError(f"{path}: columns {', '.join(data.columns)}: unpaired rows need "
                               f"{', '.join(UNPAIRED_COLUMNS)}; missing prompt")
        return data
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing == ["prompt"]:  # TRL's implicit-prompt format: the shared start of chosen and rejected
        data.rows = [extract_prompt(row) for row in data.rows]
        data.columns = ["prompt", *data.columns]
        missing = []
    if missing:
        theirs = [c for c in data.columns if c not in COLUMNS]
        hint = ""
        if len(theirs) == len(missing):
            pairs = ",".join(f"{m}={t}" for m, t in zip(missing, theirs))
            hint = f" — rename them, or map them with --columns {pairs}"
        raise DatasetError(f"{path}: columns {', '.join(data.columns) or '(none)'}: expected "
                           f"{', '.join(COLUMNS)} (or unpaired rows: {', '.join(UNPAIRED_COLUMNS)}); "
                           f"missing {', '.join(missing)}{hint}")
    return data


def is_unpaired_file(columns) -> bool:
    """TRL's unpaired format: completion and label columns, no chosen/rejected."""
    return {"completion", "label"} <= set(columns) and not {"chosen", "rejected"} & set(columns)


def extract_prompt(row: dict[str, Any]) -> dict[str, Any]:
    """TRL's implicit-prompt rows (chosen and rejected each hold prompt + response): the prompt is their
    shared start — the leading messages both share, or for text the common prefix cut back to a space —
    and the responses are the rest (TRL's ``extract_prompt``)."""
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if isinstance(chosen, list) and isinstance(rejected, list):
        n = 0
        while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
            n += 1
        return {**row, "prompt": chosen[:n], "chosen": chosen[n:], "rejected": rejected[n:]}
    if isinstance(chosen, str) and isinstance(rejected, str):
        n = 0
        while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
            n += 1
        if 0 < n < len(chosen) and chosen[n - 1] == " ":
            n -= 1
        return {**row, "prompt": chosen[:n], "chosen": chosen[n:], "rejected": rejected[n:]}
    return {**row, "prompt": None}
