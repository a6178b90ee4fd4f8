"""Imports of IMDi's history (R15): a file in, validated whole, recorded through the application service."""
