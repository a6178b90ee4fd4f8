"""Subcommands of the ``settlement`` command line, one module each with ``register(subparsers)``."""
