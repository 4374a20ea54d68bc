"""prefzoo: preference-optimisation algorithms behind one interface, ranked on the same data."""

__version__ = "0.1.0"
