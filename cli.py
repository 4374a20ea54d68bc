"""The ``prefzoo`` command line: list algorithms, run a benchmark suite, render the leaderboard."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from prefzoo.algorithms.config import AlgorithmConfig, ConfigError, field_docs
from prefzoo.benchmarks.backends import Backend, CellsFailed
from prefzoo.benchmarks.results import project_paths
from prefzoo.registry import ALGORITHMS, SUITES, RegistryError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A zoo of preference-optimisation algorithms, ranked on the same data.")
# Captured output (CI logs, pipes) gets a wide console instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


@app.command("list")
def list_algorithms(
    configs: Annotated[bool, typer.Option("--configs", help="Show each algorithm's Config fields.")] = False,
) -> None:
    """Every registered algorithm: name, family, paper, origin; and plugins that failed to load."""
    loaded = ALGORITHMS.load_all()
    table = Table(title="prefzoo algorithms")
    for column in ("name", "family", "paper", "origin") + (("config",) if configs else ()):
        table.add_column(column, overflow="fold")
    for name, cls in loaded.items():
        row = [name, str(cls.family), cls.paper, ALGORITHMS.origin(name)]
        if configs:
            docs = field_docs(cls.Config)
            row.append("\n".join(f"{f.name}={f.default!r}: {docs.get(f.name, '')}"
                                 for f in dataclasses.fields(cls.Config)))
        table.add_row(*row)
    console.print(table)
    failures = ALGORITHMS.failures()
    if failures:
        bad = Table(title="plugins that failed to load", title_style="bold red")
        for column in ("name", "origin", "error"):
            bad.add_column(column, overflow="fold")
        for entry in failures:
            bad.add_row(entry.name, entry.origin, entry.error)
        console.print(bad)


def _base_configs(names: list[str], overrides: list[str], config_file: Path | None) -> dict[str, AlgorithmConfig]:
    """Per-algorithm configs from a JSON file ({"dpo": {"beta": 0.2}}) and then ``algo.field=value``."""
    per_algorithm: dict[str, list[str]] = defaultdict(list)
    for item in overrides:
        algo, dot, rest = item.partition(".")
        if not dot or "=" not in rest:
            _fail(f"--set {item!r}: expected ALGORITHM.FIELD=VALUE, e.g. dpo.beta=0.2")
        per_algorithm[algo].append(rest)
    from_file = json.loads(config_file.read_text()) if config_file else {}
    for algo in list(from_file) + list(per_algorithm):
        if algo not in names:
            _fail(f"a config is given for {algo!r}, which this run does not include ({', '.join(names)})")
    configs = {}
    for algo in set(from_file) | set(per_algorithm):
        cls = ALGORITHMS.get(algo)
        base = cls.Config.from_dict(from_file.get(algo, {}))
        configs[algo] = cls.Config.from_overrides(per_algorithm.get(algo, []), base)
    return configs


@app.command()
def bench(
    suite: Annotated[str, typer.Option(help=f"Benchmark suite: {', '.join(SUITES.names())} (`prefzoo suites` lists their options).")] = "bandit",
    algorithms: Annotated[Optional[str], typer.Option(help="Comma-separated names; default: every algorithm of the suite's families.")] = None,
    family: Annotated[Optional[str], typer.Option(help="Without --algorithms: only this family's algorithms (pairwise, online-preference, ...).")] = None,
    seeds: Annotated[Optional[int], typer.Option(min=1, help="Seeds per algorithm (suite default if unset).")] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, help="The first seed (seeds run from --seed to --seed + --seeds − 1; default 0).")] = None,
    steps: Annotated[Optional[int], typer.Option(min=1, help="Optimiser steps (suite default if unset).")] = None,
    strengths: Annotated[Optional[str], typer.Option(help="Comma-separated values of each algorithm's strength field (β, τ, ...).")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override a hyperparameter: ALGORITHM.FIELD=VALUE (repeatable).")] = [],
    config_file: Annotated[Optional[Path], typer.Option("--config", exists=True, dir_okay=False, help='JSON file: {"dpo": {"beta": 0.2}, ...}.')] = None,
    results: Annotated[Optional[Path], typer.Option(help="Folder for result files (default: the project's, see prefzoo.toml).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Where to write the suite's plot (default: next to the results folder).")] = None,
    profile: Annotated[Optional[str], typer.Option(help="LM suites: quick (CPU-sized), full, or auto (full with a GPU, else quick; the default).")] = None,
    model: Annotated[Optional[str], typer.Option(help="LM suites: hub id or local path of the base model.")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="preference-dataset suite: a TRL-format file (.json/.jsonl/.parquet/.csv) or hub id.")] = None,
    train: Annotated[Optional[str], typer.Option(help="LM suites: the shared budget, FIELD=VALUE,... of the training settings (learning_rate, steps, batch_size, micro_batch_size, warmup_steps, weight_decay, max_grad_norm, mixed_precision).")] = None,
    runs: Annotated[Optional[Path], typer.Option(help="LM suites: folder for adapters and training logs (default: the project's runs/).")] = None,
    columns: Annotated[Optional[str], typer.Option(help="preference-dataset suite: map your file's columns, e.g. prompt=question,chosen=good,rejected=bad.")] = None,
    tune: Annotated[Optional[int], typer.Option(min=1, help="smol-sentiment and bandit: give every algorithm N trials from its search space, select on validation prompts (bandit: validation seeds), report the selected config on the test ones (a section of its own).")] = None,
    max_memory: Annotated[Optional[str], typer.Option(help="LM suites on CUDA: cap the device memory (e.g. 24GiB); gradient checkpointing \"auto\" turns on when a step would not fit.")] = None,
    regenerate_data: Annotated[bool, typer.Option("--regenerate-data", help="smol-sentiment: sample the pairs on this machine instead of reading the shipped copy.")] = False,
    labels: Annotated[Optional[float], typer.Option(help="smol-sentiment: the share of the read pairs whose labels reward learning sees (reward learners, the RL family's reward model); a semi-supervised learner (ser) gets the rest unlabelled. Default 1.")] = None,
    labeller_temperature: Annotated[Optional[float], typer.Option(help="smol-sentiment, smol-two-factor: draw the train pairs' Bradley–Terry labels again at this temperature instead of the data's own (0.1), from the same pairs and random draws, so the labels come from a labeller other than the one the suite declares (misspecification).")] = None,
    preference: Annotated[Optional[str], typer.Option(help="smol-two-factor: which factor orders a training pair: helpfulness (the default; BFPO reads the safety labels beside it) or safety-first (the safe response preferred where exactly one is safe).")] = None,
    backend: Annotated[str, typer.Option(help="Where the cells run: serial (this process) or ray (Ray tasks; pip install 'prefzoo[ray]').")] = "serial",
    address: Annotated[Optional[str], typer.Option(help="--backend ray: the cluster to join (auto, HOST:PORT, ray://...); default: a local Ray instance.")] = None,
    gpus_per_cell: Annotated[Optional[float], typer.Option(help="--backend ray: GPUs an LM cell asks for (default: 1 where the cluster has GPUs, else 0).")] = None,
    cpus_per_cell: Annotated[float, typer.Option(help="--backend ray: CPUs every cell asks for (its thread count).")] = 1.0,
) -> None:
    """Train algorithms on a suite with the same data and budget; one result file per (algorithm, seed, config)."""
    from prefzoo.algorithms.engine.processes import is_main

    console.quiet = not is_main()  # of a data-parallel run's processes (torchrun, accelerate launch), one reports
    try:
        paths = project_paths()
        results = results or paths["results"]
        if plot is not None and plot.is_dir():  # found before the cells run, not when the figure is saved
            _fail(f"--plot {plot}: a folder; give the path of the image file to write (e.g. {plot / (suite + '.png')})")
        suite_obj = SUITES.get(suite)()
        data_options = {"preference": preference} if preference is not None else {}  # what the data can train
        if algorithms:
            names = [n.strip() for n in algorithms.split(",") if n.strip()]
            classes = [ALGORITHMS.get(n) for n in names]
        else:
            families = [str(f) for f in suite_obj.families]
            if family is not None and family not in families:
                _fail(f"--family {family!r}: suite {suite!r} trains {', '.join(families)}")
            classes = [c for c in ALGORITHMS.load_all().values()
                       if str(c.family) in families and (family is None or str(c.family) == family)]
            for cls in list(classes):
                budget = {"labels": labels} if labels is not None else {}
                reason = getattr(suite_obj, "cannot_train", lambda *_, **__: None)(cls, **data_options, **budget)
                if reason:
                    console.print(f"[yellow]skipped[/] {cls.name}: {reason}", highlight=False)
                    classes.remove(cls)
            names = [c.name for c in classes]
            for entry in ALGORITHMS.failures():
                console.print(f"[yellow]skipped[/] plugin {entry.name!r} ({entry.origin}): {entry.error}",
                              highlight=False)
        base_configs = _base_configs(names, set_, config_file)
        suite_options = {k: v for k, v in dict(
            strengths=[float(s) for s in strengths.split(",")] if strengths else None,
            profile=profile, model=model, dataset=dataset,
            train=[t for t in train.split(",") if t.strip()] if train else None, runs=runs, columns=columns,
            seed=seed, tune=tune, max_memory=max_memory, labels=labels, preference=preference,
            labeller_temperature=labeller_temperature,
            regenerate_data=regenerate_data or None).items() if v is not None}
        if backend != "serial" or address or gpus_per_cell is not None or cpus_per_cell != 1.0:
            suite_options["backend"] = Backend(backend, address, gpus_per_cell, cpus_per_cell)
    except (RegistryError, ConfigError, ValueError) as exc:
        _fail(str(exc))
    accepted = inspect.signature(suite_obj.run).parameters
    for option in suite_options:
        if option not in accepted:
            _fail(f"suite {suite!r} does not take --{option}")
    for option, param in accepted.items():
        if param.kind is param.KEYWORD_ONLY and param.default is param.empty and option not in suite_options:
            _fail(f"suite {suite!r} needs --{option}")
    console.print(f"[bold]{suite}[/]: {', '.join(names)}")
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task(f"training {len(classes)} algorithms", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            docs = suite_obj.run(classes, results, seeds=seeds, steps=steps, base_configs=base_configs,
                                 progress=report, **suite_options)
        except (ConfigError, ValueError, CellsFailed) as exc:
            _fail(str(exc))
    if not is_main():  # its documents are the main process's to score
        return
    for title, headers, rows in suite_obj.tables(docs):
        table = Table(title=f"{title}: means with 95% intervals")
        for h in headers:
            table.add_column(h)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    figure = suite_obj.plot(docs, plot or Path(results).parent / f"{suite}.png")
    console.print(f"{len(docs)} result files under {results}" + (f"; plot: {figure}" if figure else ""))


@app.command()
def suites() -> None:
    """Every benchmark suite: what it trains and the options `prefzoo bench` takes for it."""
    table = Table(title="prefzoo suites")
    for column in ("suite", "what it is", "families", "options"):
        table.add_column(column, overflow="fold")
    for name in SUITES.names():
        cls = SUITES.get(name)
        options = [f"--{p.replace('_', '-')}" + (" (required)" if v.default is v.empty else "")
                   for p, v in inspect.signature(cls.run).parameters.items() if v.kind is v.KEYWORD_ONLY
                   and p not in ("progress", "log", "base_configs")]
        doc = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
        table.add_row(name, doc, ", ".join(str(f) for f in getattr(cls, "families", ())), " ".join(options))
    console.print(table)


@app.command()
def leaderboard(
    results: Annotated[Optional[Path], typer.Option(help="Folder of result files (default: the project's, see prefzoo.toml).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder for README.md, index.html and figures (default: the project's).")] = None,
) -> None:
    """Regenerate the leaderboard (README.md, index.html and figures) from the result files."""
    from prefzoo.leaderboard.render import render

    try:
        paths = project_paths()
    except ValueError as exc:
        _fail(str(exc))
    with console.status("reading results") as status:
        def log(line: str) -> None:
            console.print(line, highlight=False)
            status.update("rendering")

        written = render(results or paths["results"], out or paths["leaderboard"], log)
    for path in written:
        console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
