"""diagkit's version, a leaf every layer may read (the package root is the public face, above them)."""

__version__ = "0.1.0"
