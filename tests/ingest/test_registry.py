"""The format registry: one reader per input format, the one list the command line, auto's order
of recognition and the README come from; light enough for the command line to start on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from apportion.ingest import registry
from apportion.ingest.readers import stager
from apportion.ingest.registry import READERS, Format, Reader

README = Path(__file__).parents[2] / "README.md"
HEAVY = ("pyarrow", "ibis", "duckdb", "pyspark", "apportion.ingest.load", "apportion.engine")


def test_the_readme_lists_the_formats_of_the_registry() -> None:
    """A new format is listed in the README's ingest synopsis, in the registry's order."""
    synopsis = re.search(
        r"`apportion ingest FILE\.\.\. \[--format ([a-z0-9|-]+)\]", README.read_text()
    )
    assert synopsis is not None, "the README's `apportion ingest` synopsis"
    assert synopsis.group(1).split("|") == list(registry.FORMATS)


def test_the_format_type_names_every_reader() -> None:
    assert list(get_args(Format)) == [registry.AUTO, *(reader.name for reader in READERS)]
    assert len(registry.BY_NAME) == len(READERS)
    assert len({reader.title for reader in READERS}) == len(READERS)
    assert all(registry.format_named(name) == name for name in registry.FORMATS)
    with pytest.raises(ValueError, match="no input format 'csv'"):
        registry.format_named("csv")


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
def test_every_reader_has_a_stager_for_it(reader: Reader) -> None:
    found = stager(reader)
    assert found.reader is reader
    assert callable(found.recognises) and callable(found.stage)
    assert reader.suffixes and all(suffix.startswith(".") for suffix in reader.suffixes)
    assert reader.companions == (("usage",) if reader.usage_beside else ())
    if reader.companions:
        assert reader.yields == "drivers"  # usage beside drivers, nothing else


def test_auto_tries_the_readers_in_the_registry_order() -> None:
    """What a CSV's header, a JSON file's first object and a table's columns are tried with."""

    def names(looks: registry.Looks, suffix: str) -> list[str]:
        return [reader.name for reader in registry.recognisable(looks, suffix)]

    assert names("header", ".csv") == [
        "litellm",
        "opencost-csv",
        "aws-cur",
        "aws-cur2",
        "azure-ea",
        "azure-mca",
        "oci",
    ]
    for suffix in (".json", ".jsonl", ".ndjson"):
        assert names("json", suffix) == [
            "otel",
            "opencost",
            "prometheus",
            "gcp",
            "openai-costs",
            "openai-usage",
            "anthropic-costs",
            "anthropic-usage",
        ]
    for suffix in (".csv", ".parquet", ".pq", ".jsonl"):
        assert names("columns", suffix) == ["focus", "drivers", "metrics"]
    assert names("header", ".parquet") == names("json", ".csv") == []


def test_a_stager_is_checked_against_its_entry() -> None:
    wrong = Reader(
        "focus", "FOCUS cost file", "focus", "columns", (".csv",), "apportion.ingest.drivers:READER"
    )
    with pytest.raises(RuntimeError, match="stages drivers, not focus"):
        stager(wrong)


def _imported(module: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules of these names that importing ``module`` imports, in a fresh interpreter."""
    check = (
        f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    )
    found = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    return [
        name.strip(" '") for name in found.stdout.strip().strip("[]").split(",") if name.strip()
    ]


def test_the_registry_imports_no_engine() -> None:
    """The command line builds its --format choices from the registry at start-up: reading it
    imports neither the readers nor Arrow, Ibis or an engine."""
    assert _imported("apportion.ingest.registry", HEAVY) == []


def test_the_command_line_starts_without_the_readers() -> None:
    assert _imported("apportion.cli", ("apportion.ingest.load", "apportion.ingest.readers")) == []
