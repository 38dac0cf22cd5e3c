"""Bring bills and metering into the workspace: sniff, parse, quarantine, load idempotently."""

from apportion.ingest.load import Difference, IngestResult, ingest_files

__all__ = ["Difference", "IngestResult", "ingest_files"]
