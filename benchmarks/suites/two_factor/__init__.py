"""smol-two-factor: smol-sentiment's pairs with a second, binary safety factor (``suite``)."""
