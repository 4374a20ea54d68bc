"""The registered suites, one folder each: ``bandit`` (tabular policies), ``lm`` (the LM harness every LM
suite runs on, and the ``preference-dataset`` suite), ``smol_sentiment`` and ``two_factor`` (LM suites
with their own generated data). ``prefzoo.registry.SUITES`` names them."""
