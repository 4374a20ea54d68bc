"""What every algorithm runs on: the ``Algorithm`` interface and its four families (``interface``,
``pairwise_family``, ``online_family``, ``rl_family``, ``reward_family``, gathered by ``base``), configs
(``config``), search spaces for ``--tune`` (``search_space``) and unpaired rows (``unpaired``).

An algorithm file imports what it needs from ``prefzoo`` itself (``from prefzoo import Pairwise, ...``).
"""
