"""The registry on fresh instances (after lm-eval's tests/test_registry.py), and the global one."""

from __future__ import annotations

import pkgutil
import sys

import pytest

import prefzoo.algorithms
from prefzoo.algorithms.framework.interface import bind_algorithm
from prefzoo.registry import ALGORITHMS, DuplicateNameError, PluginLoadError, Registry, UnknownNameError
from tests.helpers import make_plugin, run_cli

TOY_PLUGIN = """
    from dataclasses import dataclass

    import torch.nn.functional as F

    from prefzoo import AlgorithmConfig, LossOutput, Pairwise, param

    LOADED = True


    class SquaredHingeDPO(Pairwise):
        '''A toy third-party loss: max(0, 1 − β·h)² (shapes as PairLogps).'''

        paper = "toy plugin"

        @dataclass(frozen=True)
        class Config(AlgorithmConfig):
            strength = "beta"
            beta: float = param(0.5, gt=0)
            '''β, the margin scale.'''

        def loss(self, b):
            return LossOutput((1 - self.config.beta * b.logratio_margin).clamp(min=0) ** 2)
"""


def fresh() -> Registry:
    return Registry("algorithm", group="prefzoo.algorithms", on_register=bind_algorithm)


def test_register_and_get():
    registry = Registry("thing")

    @registry.register("alpha")
    class Alpha:
        pass

    assert registry.get("alpha") is Alpha
    assert registry.names() == ["alpha"] and "alpha" in registry and len(registry) == 1


def test_duplicate_name_names_both_origins():
    registry = Registry("thing")

    @registry.register("alpha")
    class First:
        pass

    with pytest.raises(DuplicateNameError) as err:
        @registry.register("alpha")
        class Second:
            pass
    assert "First" in str(err.value) and "Second" in str(err.value)


def test_unknown_name_suggests_the_closest():
    registry = Registry("algorithm")
    for name in ("dpo", "ipo", "simpo"):
        registry.register(name)(type(name, (), {}))
    with pytest.raises(UnknownNameError, match="did you mean 'dpo'"):
        registry.get("dop")
    with pytest.raises(UnknownNameError, match="registered: dpo, ipo, simpo"):
        registry.get("zzz")


def test_on_register_rejects_a_non_algorithm():
    registry = fresh()
    with pytest.raises(TypeError, match="not a subclass"):
        registry.register("bad")(type("NotAnAlgorithm", (), {}))


def test_entry_point_plugin_is_lazy(plugin_site):
    make_plugin(plugin_site, "toy-plugin", "toy_plugin_lazy", TOY_PLUGIN,
                {"toy-sq": "toy_plugin_lazy:SquaredHingeDPO"})
    registry = fresh()
    assert "toy-sq" in registry.names()
    assert "toy_plugin_lazy" not in sys.modules  # listed by name, not imported
    cls = registry.get("toy-sq")
    assert cls.name == "toy-sq" and "toy_plugin_lazy" in sys.modules
    assert "entry point toy-sq = toy_plugin_lazy:SquaredHingeDPO (distribution toy-plugin 0.1)" == registry.origin("toy-sq")


def test_broken_plugin_is_reported_and_never_breaks_listing(plugin_site):
    make_plugin(plugin_site, "broken-plugin", "broken_plugin_mod", "import a_module_that_does_not_exist\n",
                {"broken": "broken_plugin_mod:Whatever"})
    registry = fresh()
    registry.register("fine")(_toy_algorithm())
    assert registry.load_all().keys() == {"fine"}
    (failure,) = registry.failures()
    assert failure.name == "broken" and "ModuleNotFoundError" in failure.error
    with pytest.raises(PluginLoadError, match="broken.*a_module_that_does_not_exist"):
        registry.get("broken")


def test_plugin_that_is_not_an_algorithm_is_reported(plugin_site):
    make_plugin(plugin_site, "odd-plugin", "odd_plugin_mod", "class NotAlgo:\n    pass\n", {"odd": "odd_plugin_mod:NotAlgo"})
    registry = fresh()
    assert registry.load_all() == {}
    assert "not a subclass" in registry.failures()[0].error


def test_plugin_clashing_with_a_builtin_is_reported_and_the_builtin_kept(plugin_site):
    make_plugin(plugin_site, "clash-plugin", "clash_plugin_mod", TOY_PLUGIN, {"dpo": "clash_plugin_mod:SquaredHingeDPO"})
    registry = Registry("algorithm", builtins="prefzoo.algorithms", group="prefzoo.algorithms",
                        on_register=bind_algorithm)
    # a fresh registry over the built-in package sees no decorations (modules are imported once), so
    # register the built-in here as the decorator would have
    from prefzoo.algorithms.dpo import DPO
    registry.register("dpo")(DPO)
    assert registry.get("dpo") is DPO
    (failure,) = registry.failures()
    assert "registered twice" in failure.error and "built-in (algorithms/dpo.py)" in failure.error
    assert "clash-plugin" in failure.error


def test_register_lazy_imports_on_first_get():
    registry = Registry("suite")
    registry.register_lazy("json-encoder", "json.encoder:JSONEncoder")
    import json.encoder
    assert registry.get("json-encoder") is json.encoder.JSONEncoder
    with pytest.raises(DuplicateNameError):
        registry.register_lazy("json-encoder", "json:JSONEncoder")


def test_builtins_are_discovered_by_walking_the_package():
    """Every module of algorithms/ but the shared interface (base, the families' interfaces, config, the
    unpaired data type, the search space) contributes a registered algorithm."""
    shared = {"base", "interface", "pairwise_family", "online_family", "rl_family", "reward_family", "config",
              "unpaired", "search_space"}
    modules = {m.name for m in pkgutil.iter_modules(prefzoo.algorithms.__path__) if not m.ispkg} - shared
    registered_from = {ALGORITHMS.get(n).__module__.rsplit(".", 1)[-1] for n in ALGORITHMS.names()
                       if ALGORITHMS.get(n).__module__.startswith("prefzoo.")}
    assert modules == registered_from
    assert {"dpo", "ipo", "cdpo", "robust-dpo", "slic-hinge", "simpo"} <= set(ALGORITHMS.names())


def _toy_algorithm():
    from prefzoo.algorithms.dpo import DPO

    return type("ToyDPO", (DPO,), {})


# ------------------------------------------------------------------ through the command line


def test_cli_lists_a_plugin_and_a_broken_one(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_plugin(site, "toy-plugin", "toy_plugin_cli", TOY_PLUGIN, {"toy-sq": "toy_plugin_cli:SquaredHingeDPO"})
    make_plugin(site, "broken-plugin", "broken_plugin_cli", "raise RuntimeError('boom at import')\n",
                {"broken": "broken_plugin_cli:X"})
    result = run_cli("list", site=site)
    assert result.returncode == 0, result.stderr
    assert "toy-sq" in result.stdout and "toy-plugin 0.1" in result.stdout
    assert "failed to load" in result.stdout and "boom at import" in result.stdout
    for name in ("dpo", "ipo", "cdpo", "robust-dpo", "slic-hinge", "simpo"):
        assert f"│ {name} " in result.stdout


@pytest.mark.slow
def test_bench_without_algorithms_says_in_one_line_which_plugin_it_skipped(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_plugin(site, "broken-plugin", "broken_plugin_bench", "raise RuntimeError('boom at import')\n",
                {"broken": "broken_plugin_bench:X"})
    out = run_cli("bench", "--suite", "bandit", "--family", "pairwise", "--seeds", "1", "--steps", "20",
                  "--strengths", "0.5", "--results", str(tmp_path / "r"), "--plot", str(tmp_path / "p.png"), site=site)
    assert out.returncode == 0, out.stdout + out.stderr
    skipped = [line for line in out.stdout.splitlines() if line.startswith("skipped plugin 'broken'")]
    assert len(skipped) == 1 and "boom at import" in skipped[0]


def test_third_party_plugin_trains_in_the_bandit_suite(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_plugin(site, "toy-plugin", "toy_plugin_bench", TOY_PLUGIN, {"toy-sq": "toy_plugin_bench:SquaredHingeDPO"})
    results = tmp_path / "results"
    out = run_cli("bench", "--suite", "bandit", "--algorithms", "toy-sq,dpo", "--steps", "400", "--seeds", "2",
                  "--strengths", "0.5,1", "--results", str(results), "--plot", str(tmp_path / "p.png"), site=site)
    assert out.returncode == 0, out.stdout + out.stderr
    files = sorted((results / "bandit" / "toy-sq").glob("seed*-*.json"))
    assert len(files) == 4  # 2 strengths × 2 seeds
    import json

    doc = json.loads(files[0].read_text())
    assert doc["origin"].startswith("entry point toy-sq") and doc["settings"]["steps"] == 400
    # the squared hinge has a finite minimiser at β·h = 1, so D1's π(a) moved but stays below DPO's
    assert 0.34 < doc["datasets"]["D1"]["final"][0] < 0.99


def test_the_framework_s_old_import_paths_are_the_same_objects_as_the_api():
    """A plugin written before ``algorithms/framework/`` existed imports ``prefzoo.algorithms.base`` and
    ``prefzoo.algorithms.config``: those names still import, as the very classes of ``from prefzoo import``."""
    import prefzoo
    from prefzoo.algorithms import base as old_base
    from prefzoo.algorithms.config import AlgorithmConfig, param
    from prefzoo.algorithms.rl_family import RewardModelChoice

    assert old_base.Pairwise is prefzoo.Pairwise and old_base.LossOutput is prefzoo.LossOutput
    assert AlgorithmConfig is prefzoo.AlgorithmConfig and param is prefzoo.param
    assert RewardModelChoice is prefzoo.RewardModelChoice and prefzoo.register == ALGORITHMS.register
    with pytest.raises(ModuleNotFoundError):
        import prefzoo.algorithms.no_such_module  # noqa: F401

