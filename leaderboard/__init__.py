"""The leaderboard: ``README.md`` (and figures) rendered from the result files alone."""
