"""Judges: what scores a policy's responses when a suite has no gold reward of its own, and the gold of
the suites that do. One file per built-in judge (``vader``, ``textblob``, ``reward_model``), each
registered in ``prefzoo.registry.JUDGES``; third parties add theirs through the ``prefzoo.judges``
entry-point group. ``base`` holds the ``Judge`` interface and ``make_judge``, which turns a
``--judge NAME[:ARG]`` into a checked judge before any training."""
