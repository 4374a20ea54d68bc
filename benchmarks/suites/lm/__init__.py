"""The LM harness, which knows no dataset: a run over a ``DataSource`` (``sources``) with a profile
(``profiles``, ``data_settings``), its cells (``cells``, ``run``), one evaluation for every algorithm
(``evaluation``, ``metrics/``), ``--tune`` (``tuning``), a user's files (``user_files``), and the tables
and figures of every LM suite (``table``, ``report``, ``reward_report``)."""
