"""The write side of settlement: aggregates, events, the numbered rules and the application service."""
