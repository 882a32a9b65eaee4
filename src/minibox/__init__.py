"""minibox: a private, sandboxed mini-program container and platform."""

__version__ = "0.1.0"
