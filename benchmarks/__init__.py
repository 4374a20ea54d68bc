"""Benchmarks: the registered suites (``suites/``), what they share (``harness/``), and standalone studies
(``studies/``). Each suite trains algorithms on the same data and budget and writes one result file per
(suite, algorithm, seed, config hash); ``prefzoo.leaderboard`` renders them."""
