"""The HTTP API and the settlement command line."""
