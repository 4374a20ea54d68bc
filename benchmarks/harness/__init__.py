"""What every suite shares: result files and settings hashes (``results``), where cells run (``backends``),
and the statistics of its tables (``stats``, ``paired_stats``, ``tables``)."""
