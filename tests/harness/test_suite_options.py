"""A suite's options are one declaration: a field of its ``Options`` dataclass is a ``prefzoo bench`` flag,
a line of ``prefzoo suites`` and of ``bench --help``, and a typed value in the run; a suite that does not
declare it refuses it by name."""

import dataclasses

import pytest

from prefzoo.benchmarks.harness.suite import Suite, SuiteOptions
from prefzoo.registry import ALGORITHMS, SUITES
from tests.helpers import make_plugin, run_cli

TOY_SUITE = """
    import dataclasses

    from prefzoo import Family
    from prefzoo.benchmarks.harness.suite import Suite, SuiteOptions


    @dataclasses.dataclass(frozen=True, kw_only=True)
    class ToyOptions(SuiteOptions):
        flavour: str = "plain"
        '''The option this suite adds, declared once.'''
        portions: tuple[float, ...] | None = None
        '''Comma-separated sizes.'''


    class ToySuite(Suite):
        '''A suite of two options.'''

        name = "toy"
        families = (Family.PAIRWISE,)
        Options = ToyOptions

        def execute(self, algorithms, results_root, options, base_configs, progress, log):
            log(f"ran {[c.name for c in algorithms]} flavour={options.flavour} portions={options.portions} "
                f"seeds={options.seeds}")
            return []

        def tables(self, docs):
            return []

        def plot(self, docs, path):
            return None

        def section(self, docs, out_dir):
            return ""
"""


@pytest.fixture
def site(tmp_path):
    (tmp_path / "site").mkdir()
    return make_plugin(tmp_path / "site", "toy-suite", "toy_suite", TOY_SUITE, {"toy": "toy_suite:ToySuite"},
                       group="prefzoo.suites")


@pytest.mark.slow
def test_a_new_option_is_one_field_of_the_suites_declaration(site, tmp_path):
    out = run_cli("bench", "--suite", "toy", "--algorithms", "dpo", "--flavour", "salty", "--portions", "0.5,2",
                  "--seeds", "2", "--results", str(tmp_path / "r"), "--plot", str(tmp_path / "p.png"), site=site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ran ['dpo'] flavour=salty portions=(0.5, 2.0) seeds=2" in out.stdout
    listing = run_cli("suites", site=site)
    assert "--flavour" in listing.stdout and "--portions" in listing.stdout
    assert "toy: The option this suite adds, declared once." in run_cli("bench", "--help", site=site).stdout
    refused = run_cli("bench", "--suite", "bandit", "--flavour", "salty", site=site)
    assert refused.returncode == 2 and "suite 'bandit' does not take --flavour" in refused.stdout


def test_options_are_typed_validated_and_refused_by_flag():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Options(SuiteOptions):
        dataset: str
        """Required."""
        sizes: tuple[int, ...] = ()
        """Comma-separated."""

    class Needy(Suite):
        name, families = "needy", ()
        execute = tables = plot = section = None

    Needy.Options = Options
    assert Needy.options(dataset="d", sizes="1, 2,3").sizes == (1, 2, 3)
    with pytest.raises(ValueError, match="suite 'needy' needs --dataset"):
        Needy.options()
    with pytest.raises(ValueError, match="suite 'needy' does not take --labeller-temperature"):
        Needy.options(dataset="d", labeller_temperature=1.0)
    with pytest.raises(ValueError, match="--sizes '1,x': expected comma-separated int values"):
        Needy.options(dataset="d", sizes="1,x")


def test_every_registered_suite_declares_its_options_as_documented_fields():
    from prefzoo.algorithms.framework.config import field_docs

    for name, cls in SUITES.load_all().items():
        assert issubclass(cls, Suite) and issubclass(cls.Options, SuiteOptions), name
        docs = field_docs(cls.Options)
        assert all(docs.get(f.name) for f in dataclasses.fields(cls.Options)), name


def test_the_held_out_size_is_a_setting_a_run_can_buy_power_with(tmp_path):
    from prefzoo.benchmarks.suites.lm.suite import PreferenceDatasetSuite
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    suite = SmolSentimentSuite()
    name, default = suite.profile(suite.options(profile="quick"))
    _, bigger = suite.profile(suite.options(profile="quick", eval_prompts=256, eval_samples=2))
    assert name == "quick" and (bigger.data.eval_prompts, bigger.samples_per_prompt) == (256, 2)
    assert bigger.to_dict()["data"]["eval_prompts"] == 256 and bigger.to_dict() != default.to_dict()  # in the hash
    with pytest.raises(ValueError, match="--eval-prompts: a dataset's held-out prompts are those of its held-out"):
        PreferenceDatasetSuite().run([ALGORITHMS.get("dpo")], tmp_path, dataset=str(tmp_path / "any.jsonl"),
                                     eval_prompts=8)


def test_the_quick_profile_evaluates_along_training_within_whatever_budget_a_run_gives_it():
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    suite = SmolSentimentSuite()
    assert suite.profile(suite.options(profile="quick"))[1].eval_at == (3, 6, 12, 24)
    assert suite.profile(suite.options(profile="quick", steps=8))[1].eval_at == (3, 6)  # past the budget: gone
    assert suite.profile(suite.options(profile="quick", train="steps=2"))[1].eval_at == ()
    assert suite.profile(suite.options(profile="smoke"))[1].eval_at == ()
    with pytest.raises(ValueError, match="--eval-at 9: the budget has steps 1 to 8"):
        suite.profile(suite.options(profile="quick", steps=8, eval_at="3,9"))


def test_the_rl_option_splits_each_rollout_into_off_policy_steps_and_names_its_setting():
    from prefzoo.benchmarks.suites.smol_sentiment.suite import SmolSentimentSuite

    suite = SmolSentimentSuite()
    _, quick = suite.profile(suite.options(profile="quick"))
    _, split = suite.profile(suite.options(profile="quick", rl="steps_per_rollout=4"))
    assert "steps_per_rollout" not in quick.to_dict()["rl"]  # the main setting's hash is unchanged
    assert split.to_dict()["rl"]["steps_per_rollout"] == 4 and split.to_dict() != quick.to_dict()
    with pytest.raises(ValueError, match="steps_per_rollout = 3 must divide a rollout's 8 responses"):
        suite.profile(suite.options(profile="quick", rl="steps_per_rollout=3"))
    with pytest.raises(ValueError, match="--rl: no field 'minibatch_size'"):
        suite.profile(suite.options(profile="quick", rl="minibatch_size=2"))
