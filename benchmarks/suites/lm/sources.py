"""The data-source contract of the LM suites (``DataSource``), and its implementation for a preference
dataset in TRL's format from a local file or the hub (``PreferenceDataset``).

The generic LM harness (``run``, ``evaluation``, ``tuning``, ``cells``) reads its data only through this
contract, so it knows no dataset: the smol-sentiment and smol-two-factor suites'
generated data and a user's file are three implementations of it.
"""

from __future__ import annotations

import hashlib
import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from prefzoo.algorithms.engine.data import COLUMNS, DatasetError
from prefzoo.algorithms.engine.unpaired_data import UNPAIRED_COLUMNS, parse_label, validate_unpaired
from prefzoo.benchmarks.judges.base import Judge, completion_text
from prefzoo.benchmarks.suites.lm.user_files import is_unpaired_file


@dataclass
class PreferenceData:
    """Train pairs, held-out pairs, and the held-out prompts the policies are sampled on; where the
    source has them, out-of-distribution held-out pairs."""

    train: list[dict]
    eval: list[dict]
    eval_prompts: list
    ood: list[dict] | None = None


class DataSource(ABC):
    """Where an LM suite's rows come from, and what it can say about a policy's samples.

    - ``key(model_fingerprint)``: identifies the data (part of every result's hash);
    - ``load(model, tokenizer, key)``: the train rows (pairs, or unpaired rows when ``unpaired``), the
      held-out pairs and the held-out prompts the policies are sampled on (``PreferenceData``);
    - ``gold(prompts, texts)``: a gold reward of each prompt's response, shape (n,), where ``has_gold``;
    - ``safety(texts)``: True where a response is safe, shape (n,), where ``has_safety``;
    - ``validation_prompts(data, n)``: prompts disjoint from the train and held-out ones (``--tune``);
    - ``principles``: the principles an instructable reward model learns, or None;
    - ``data_options``: the suite options that chose this data (``Suite.data_options``), recorded in
      every result document so that a report knows what the run could train;
    - ``label_temperature``, an optional attribute: the Bradley–Terry labeller's temperature, where the
      source has one (online labels are drawn with it; otherwise the profile's).

    The sampler is the profile's (``DataSettings.sampler``), shared by every source.
    """

    suite: str
    """The suite whose results this source's runs are (their folder under the results root)."""
    name: str
    """The data's name in messages and result documents."""
    has_gold = False
    has_safety = False
    unpaired = False
    principles = None

    @property
    def data_options(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def key(self, model_fingerprint: str) -> str: ...

    @abstractmethod
    def load(self, model, tokenizer, key: str) -> PreferenceData: ...

    def gold(self, prompts: list, texts: list[str]) -> torch.Tensor:
        raise RuntimeError(f"{self.name} has no gold reward")

    def safety(self, texts: list[str]) -> torch.Tensor:
        raise RuntimeError(f"{self.name} has no safety labels")

    def validation_prompts(self, data, n: int) -> list:
        raise ValueError(f"{self.name} has no validation prompts beside its held-out ones")


class PreferenceDataset(DataSource):
    """A preference dataset in TRL's format (prompt / chosen / rejected, plain or conversational, or
    chosen / rejected with the prompt inside them), from a local file (.jsonl, .json, .csv, .parquet) or
    a hub id. A local file is read and validated when the source is made — before any model loads —
    and its errors name the file's lines and columns (``user_files``); ``columns`` maps the file's
    column names (``{"prompt": "question"}``). Its ``test`` split is held out when there is one;
    otherwise ``eval_fraction`` of the rows, chosen with ``seed``.

    It has no gold reward of its own; given a ``judge`` (``benchmarks/judges``), the judge is its gold:
    it scores the policies' samples, labels the online family's pairs through Bradley–Terry at the
    judge's temperature, and scores both responses of every held-out pair (``gold_chosen``,
    ``gold_rejected``: the reward-learning diagnostics, where "chosen" stays the file's label). The
    judge's fingerprint is part of the data's key, so another judge is another setting."""

    suite = "preference-dataset"
    has_gold = False
    has_safety = False
    unpaired = False

    def __init__(self, source: str, eval_fraction: float = 0.1, seed: int = 0, columns: dict[str, str] | None = None,
                 judge: Judge | None = None):
        from prefzoo.algorithms.engine.data import validate_pairs
        from prefzoo.benchmarks.suites.lm.user_files import FORMATS, read_user_file

        if not 0 < eval_fraction < 1:
            raise ValueError(f"eval_fraction = {eval_fraction}: must be in (0, 1)")
        self.source, self.eval_fraction, self.seed, self.columns = source, eval_fraction, seed, dict(columns or {})
        self.judge, self.has_gold = judge, judge is not None
        if judge is not None:
            self.label_temperature = judge.temperature
        path = Path(source)
        looks_local = path.exists() or path.suffix in FORMATS or source.startswith((".", "/", "~")) \
            or source.count("/") > 1
        self.name = path.stem if looks_local else source
        if looks_local:
            data = read_user_file(path, self.columns)
            self.unpaired = is_unpaired_file(data.columns)
            fields = UNPAIRED_COLUMNS if self.unpaired else COLUMNS
            self._split_rows = {"train": [{**{c: row.get(c) for c in fields}, "_where": f"{path.name}, {where}"}
                                          for row, where in zip(data.rows, data.where)]}
        else:
            self._split_rows = self._hub_splits()
        validate = validate_unpaired if self.unpaired else validate_pairs
        for split, split_rows in self._split_rows.items():
            validate(split_rows, str(path) if looks_local else f"{source} [{split}]")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if looks_local else source
        self._digest = json.dumps([digest, self.columns], sort_keys=True)

    def key(self, model_fingerprint: str) -> str:
        judged = {"judge": self.judge.fingerprint()} if self.judge is not None else {}
        payload = json.dumps({"model": model_fingerprint, "source": self._digest, "eval_fraction": self.eval_fraction,
                              "seed": self.seed, **judged}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _hub_splits(self) -> dict[str, list[dict]]:
        """A hub id: real loading code for users who have a hub; its rows named by split and index."""
        from datasets import load_dataset

        try:
            loaded = load_dataset(self.source)
        except (ConnectionError, OSError, ValueError) as exc:
            raise DatasetError(f"{self.source}: not a local file, and the hub dataset could not be loaded "
                               f"({type(exc).__name__}: {exc})") from None
        named = lambda split: {c for c in {*COLUMNS, *UNPAIRED_COLUMNS}  # noqa: E731 (prefzoo's names of its columns)
                               if self.columns.get(c, c) in loaded[split].column_names}
        self.unpaired = all(is_unpaired_file(named(split)) for split in loaded)
        fields = UNPAIRED_COLUMNS if self.unpaired else COLUMNS
        return {split: [{**{c: r.get(self.columns.get(c, c)) for c in fields}, "_where": f"{split} row {i}"}
                        for i, r in enumerate(loaded[split])] for split in loaded}

    @property
    def _rows(self) -> list[dict]:
        return self._split_rows["train"]

    def load(self, model, tokenizer, key: str) -> PreferenceData:
        splits = self._split_rows
        if "test" in splits:
            train, held_out = splits["train"], splits["test"]
        else:
            # Unpaired rows are held out by prompt, so the held-out pairs below never share a prompt with training.
            rows = splits["train"]
            groups = _by_prompt(rows) if self.unpaired else [[i] for i in range(len(rows))]
            random.Random(self.seed).shuffle(groups)
            n_eval = max(1, round(self.eval_fraction * len(groups)))
            if n_eval >= len(groups):
                raise DatasetError(f"{self.source}: {len(groups)} {'prompts' if self.unpaired else 'rows'} are too few "
                                   f"to hold {n_eval} out")
            held_out = [rows[i] for group in groups[:n_eval] for i in group]
            train = [rows[i] for group in groups[n_eval:] for i in group]
        eval_prompts = list({_key(r["prompt"]): r["prompt"] for r in held_out}.values()) if self.unpaired \
            else [r["prompt"] for r in held_out]
        if self.unpaired:
            held_out = held_out_pairs(held_out, self.source)
        if self.judge is not None:
            held_out = self._judged(held_out)
        return PreferenceData(train, held_out, eval_prompts)

    @property
    def data_options(self) -> dict[str, Any]:
        return {"judge": self.judge.describe()} if self.judge is not None else {}

    def gold(self, prompts: list, texts: list[str]) -> torch.Tensor:
        if self.judge is None:
            return super().gold(prompts, texts)
        return self.judge.score(prompts, texts)

    def _judged(self, pairs: list[dict]) -> list[dict]:
        """The held-out pairs with the judge's score of each response."""
        prompts = [r["prompt"] for r in pairs]
        chosen = self.judge.score(prompts, [completion_text(r["chosen"]) for r in pairs])
        rejected = self.judge.score(prompts, [completion_text(r["rejected"]) for r in pairs])
        return [{**r, "gold_chosen": float(c), "gold_rejected": float(j)} for r, c, j in zip(pairs, chosen, rejected)]



def _key(prompt) -> str:
    return json.dumps(prompt, sort_keys=True)


def _by_prompt(rows: list[dict]) -> list[list[int]]:
    """Row indices grouped by prompt, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(_key(row["prompt"]), []).append(i)
    return list(groups.values())


def held_out_pairs(rows: list[dict], source: str) -> list[dict]:
    """Held-out unpaired rows as pairs: every (desirable, undesirable) completion of the same prompt, so
    the implicit reward is compared only where its per-prompt constant cancels (held-out pair accuracy)."""
    pairs = []
    for group in _by_prompt(rows):
        labelled = [(rows[i], parse_label(rows[i]["label"], rows[i].get("_where", f"row {i}"))) for i in group]
        pairs += [{"prompt": d["prompt"], "chosen": d["completion"], "rejected": u["completion"]}
                  for d, good in labelled if good for u, bad in labelled if not bad and u["completion"] != d["completion"]]
    if not pairs:
        raise DatasetError(f"{source}: no held-out prompt has both a desirable and an undesirable completion, so "
                           "held-out pair accuracy cannot be measured; give some prompts both kinds")
    return pairs
