"""smol-sentiment: review prompts, response pairs sampled from SmolLM2 and labelled with VADER as the
gold reward (``data``), out-of-distribution prompts (``ood``), the data source (``source``), the suite
(``suite``), and the quick profile's pairs shipped in ``shipped/``."""
