"""Bring bills and metering into the workspace: sniff, parse, quarantine, load idempotently.

The loading is apportion.ingest.load; the formats are apportion.ingest.registry, which imports
nothing heavy, so the command line reads it at start-up.
"""
