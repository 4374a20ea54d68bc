"""``strength_sweep``: an algorithm's strength field over its declared range, evenly in its scale."""

import pytest

from prefzoo.algorithms.framework.search_space import strength_sweep
from prefzoo.registry import ALGORITHMS


def test_the_sweep_spans_the_declared_range_log_evenly_with_the_default_in_the_middle():
    dpo = ALGORITHMS.get("dpo").Config  # declared search range: β in [0.01, 1], log
    assert [c.beta for c in strength_sweep(dpo, 3)] == pytest.approx([0.01, 0.1, 1.0])
    simpo = ALGORITHMS.get("simpo").Config
    assert [c.beta for c in strength_sweep(simpo, 5)] == pytest.approx([0.2, 0.2 * 10 ** 0.5, 2.0, 2 * 10 ** 0.5, 20.0])
    assert strength_sweep(dpo, 3)[1] == dpo()  # the default itself, so its cells are the default cells
    cdpo = ALGORITHMS.get("cdpo").Config
    swept = strength_sweep(cdpo, 3, cdpo(epsilon=0.2))
    assert len(swept) == 3 and all(c.epsilon == 0.2 for c in swept)  # the rest of the config stays


def test_without_a_strength_field_the_config_runs_once():
    for name, cls in ALGORITHMS.load_all().items():
        field = cls.Config.strength
        if field is None or not isinstance(getattr(cls.Config(), field), float):
            assert strength_sweep(cls.Config, 4) == [cls.Config()], name
