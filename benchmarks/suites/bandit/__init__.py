"""The bandit suite: every algorithm on tabular policies, where the mathematics can be checked in seconds.
``suite`` is what the harness and the leaderboard call; ``pairwise``, ``online``, ``rl`` and ``reward`` are
its four parts, one per family; ``tuning``, ``report``, ``plot`` and ``documents`` serve them."""
