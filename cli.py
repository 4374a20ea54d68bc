"""The ``prefzoo`` command line: list algorithms, run a benchmark suite, render the leaderboard."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import typing
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from prefzoo.algorithms.framework.config import AlgorithmConfig, ConfigError, field_docs
from prefzoo.benchmarks.harness.backends import Backend, CellsFailed
from prefzoo.benchmarks.harness.results import project_paths
from prefzoo.benchmarks.harness.suite import flag, is_required, option_fields, without_none
from prefzoo.registry import ALGORITHMS, JUDGES, SUITES, RegistryError

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
    judges: Annotated[bool, typer.Option("--judges", help="List the judges (--judge) instead.")] = False,
) -> None:
    """Every registered algorithm: name, family, paper, origin; and plugins that failed to load."""
    if judges:
        return _list_judges()
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
    _print_failures(ALGORITHMS)


def _list_judges() -> None:
    """Every registered judge: name, what it scores, its Bradley–Terry temperature, whether its packages
    are installed, origin; and plugins that failed to load."""
    import importlib.util

    table = Table(title="prefzoo judges (--judge NAME[:ARG])")
    for column in ("name", "scores", "T", "installed", "origin"):
        table.add_column(column, overflow="fold")
    for name, cls in JUDGES.load_all().items():
        missing = [p for p in cls.requires if importlib.util.find_spec(p) is None]
        table.add_row(name, cls.summary, f"{cls.temperature:g}", f"no: pip install {' '.join(missing)}" if missing
                      else "yes", JUDGES.origin(name))
    console.print(table)
    _print_failures(JUDGES)


def _print_failures(registry) -> None:
    failures = registry.failures()
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


SUITE_PANEL = "Suite options (`prefzoo suites` lists them by suite)"


def _cli_type(field: dataclasses.Field, annotation) -> tuple[type, dict]:
    """The type typer parses a suite option's flag as (``X | None`` is X; ``tuple[X, ...]`` is
    comma-separated text, which ``Suite.options`` splits), and the flag's own keywords."""
    kind = without_none(annotation)
    if typing.get_origin(kind) is tuple:
        return Optional[str], {}
    if kind is bool:
        return bool, {}
    return Optional[kind], ({"min": field.metadata["min"]} if "min" in field.metadata else {})


def with_suite_options(command: Callable) -> Callable:
    """``command`` with one keyword flag per option field of every registered suite (``Suite.Options``)
    beside its own parameters, its help the field's docstring and the suites that take it: typer reads
    the signature, so ``bench --help`` and ``prefzoo suites`` read the one declaration."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags: dict[str, tuple] = {}
    docs = defaultdict(lambda: defaultdict(list))  # field → its docstring → the suites that declare it so
    for suite, cls in SUITES.load_all().items():
        for field, annotation, doc in option_fields(cls.Options):
            if field.name not in signature.parameters:
                flags.setdefault(field.name, _cli_type(field, annotation))
                docs[field.name][doc].append(suite)
    extra_params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False if kind is bool else None,
                                      annotation=Annotated[kind, typer.Option(
                                          flag(name), rich_help_panel=SUITE_PANEL, **extra,
                                          help=" ".join(f"{', '.join(suites)}: {doc}"
                                                        for doc, suites in docs[name].items()))])
                    for name, (kind, extra) in flags.items()]
    command.__signature__ = signature.replace(parameters=own + extra_params)
    command.__annotations__ = {p.name: p.annotation for p in own + extra_params}
    return command


@app.command()
@with_suite_options
def bench(
    suite: Annotated[str, typer.Option(help=f"Benchmark suite: {', '.join(SUITES.names())} (`prefzoo suites` lists their options).")] = "bandit",
    algorithms: Annotated[Optional[str], typer.Option(help="Comma-separated names; default: every algorithm of the suite's families.")] = None,
    family: Annotated[Optional[str], typer.Option(help="Without --algorithms: only this family's algorithms (pairwise, online-preference, ...).")] = None,
    seeds: Annotated[Optional[int], typer.Option(min=1, help="Seeds per algorithm (suite default if unset).")] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, help="The first seed (seeds run from --seed to --seed + --seeds − 1; default 0).")] = None,
    steps: Annotated[Optional[int], typer.Option(min=1, help="Optimiser steps (suite default if unset).")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override a hyperparameter: ALGORITHM.FIELD=VALUE (repeatable).")] = [],
    config_file: Annotated[Optional[Path], typer.Option("--config", exists=True, dir_okay=False, help='JSON file: {"dpo": {"beta": 0.2}, ...}.')] = None,
    results: Annotated[Optional[Path], typer.Option(help="Folder for result files (default: the project's, see prefzoo.toml).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Where to write the suite's plot (default: next to the results folder).")] = None,
    backend: Annotated[str, typer.Option(help="Where the cells run: serial (this process) or ray (Ray tasks; pip install 'prefzoo\\[ray]').")] = "serial",
    address: Annotated[Optional[str], typer.Option(help="--backend ray: the cluster to join (auto, HOST:PORT, ray://...); default: a local Ray instance.")] = None,
    gpus_per_cell: Annotated[Optional[float], typer.Option(help="--backend ray: GPUs an LM cell asks for (default: 1 where the cluster has GPUs, else 0).")] = None,
    cpus_per_cell: Annotated[float, typer.Option(help="--backend ray: CPUs every cell asks for (its thread count).")] = 1.0,
    **suite_options: Any,
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
        given = {k: v for k, v in suite_options.items() if v is not None and v is not False}
        given.update({k: v for k, v in dict(seeds=seeds, seed=seed, steps=steps).items() if v is not None})
        if backend != "serial" or address or gpus_per_cell is not None or cpus_per_cell != 1.0:
            given["backend"] = Backend(backend, address, gpus_per_cell, cpus_per_cell)
        options = type(suite_obj).options(**given)
        data_options = suite_obj.data_options(options)  # what the data can train
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
                budget = {"labels": given["labels"]} if "labels" in given else {}
                reason = suite_obj.cannot_train(cls, **data_options, **budget)
                if reason:
                    console.print(f"[yellow]skipped[/] {cls.name}: {reason}", highlight=False)
                    classes.remove(cls)
            names = [c.name for c in classes]
            for entry in ALGORITHMS.failures():
                console.print(f"[yellow]skipped[/] plugin {entry.name!r} ({entry.origin}): {entry.error}",
                              highlight=False)
        base_configs = _base_configs(names, set_, config_file)
    except (RegistryError, ConfigError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"[bold]{suite}[/]: {', '.join(names)}")
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task(f"training {len(classes)} algorithms", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            docs = suite_obj.execute(classes, results, options, base_configs, report, print)
        except (ConfigError, ValueError, CellsFailed) as exc:
            _fail(str(exc))
    if not is_main():  # its documents are the main process's to score
        return
    docs = suite_obj.read(docs)
    for title, headers, rows in suite_obj.terminal_tables(docs):
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
        options = [flag(f.name) + (" (required)" if is_required(f) else "") for f, _, _ in option_fields(cls.Options)]
        doc = (cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        table.add_row(name, " ".join(doc.split()), ", ".join(str(f) for f in cls.families), " ".join(options))
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
