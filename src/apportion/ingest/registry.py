"""Every input format, as one reader: the one list that ``--format``'s choices, ``auto``'s order
of recognition and the README's list of formats come from.

A reader here is data: its ``--format`` name, its title, the rows it yields, the files ``auto``
looks at for it and what it recognises it by. What it does (recognise a file, stage its rows)
is its stager, an object beside the parsing code of its format (``apportion.ingest.native``,
``reports``, ``litellm``, ...) that the entry names as ``module:attribute`` and
``apportion.ingest.readers`` imports on first use. So this module imports nothing but the
standard library: the command line builds its ``--format`` choices from it at start-up without
loading pyarrow, Ibis or an engine.

Adding a format: its entry here (and its name in ``Format``), its stager in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

# every --format value: "auto", then the readers' names in READERS order (a test keeps them equal;
# a Literal so that mypy checks the names code passes)
Format = Literal[
    "auto",
    "focus",
    "drivers",
    "metrics",
    "litellm",
    "otel",
    "opencost",
    "opencost-csv",
    "prometheus",
    "aws-cur",
    "aws-cur2",
    "azure-ea",
    "azure-ea-amortized",
    "azure-mca",
    "azure-mca-amortized",
    "gcp",
    "oci",
    "openai-costs",
    "openai-usage",
    "anthropic-costs",
    "anthropic-usage",
]
AUTO = "auto"

# what a reader's rows are, as IngestResult.kind says it: FOCUS cost lines, drivers, token
# usage or business metrics
Yields = Literal["focus", "drivers", "usage", "metrics"]
# what --format auto recognises a reader's files by: the CSV header, the first JSON object (a
# JSON-lines file's first line, or a saved document's first page), or, for a table file read
# as it is, its columns once staged (looked at only when no header or JSON reader took it)
Looks = Literal["header", "json", "columns"]
# whose usage a reader's companion usage rows are
Origin = Literal["gateway", "telemetry"]

CSV = (".csv",)  # a compressed .csv.gz is read as .csv (apportion.ingest.files.reading_suffix)
PARQUET = (".parquet", ".pq")
JSON_LINES = (".jsonl", ".ndjson", ".json")
TABLES = (*CSV, *PARQUET, *JSON_LINES)


@dataclass(frozen=True)
class Reader:
    """One input format."""

    name: str  # the --format value
    title: str  # what people call it, for messages
    yields: Yields  # the rows it gives
    looks: Looks  # what auto recognises it by
    suffixes: tuple[str, ...]  # the files auto looks at for it (a named format reads any file)
    stager: str  # "module:attribute": what recognises and stages its files (readers.Stager)
    auto: bool = True  # recognised by --format auto; else read only when named
    usage_beside: Origin | None = None  # usage rows it gives beside its drivers, and whose

    @property
    def companions(self) -> tuple[Yields, ...]:
        """The kinds of row it gives beside its own, loaded and replaced with them."""
        return ("usage",) if self.usage_beside else ()


def _table(name: Yields, title: str) -> Reader:
    """A table file read as it is (CSV, Parquet or JSON lines): its columns tell its kind."""
    stager = f"apportion.ingest.{name}:READER"
    return Reader(name, title, yields=name, looks="columns", suffixes=TABLES, stager=stager)


def _native(name: str, title: str, attribute: str, *, auto: bool = True) -> Reader:
    """A native cloud export's CSV, mapped to FOCUS cost lines."""
    stager = f"apportion.ingest.native:{attribute}"
    return Reader(name, title, "focus", looks="header", suffixes=CSV, stager=stager, auto=auto)


def _report(name: str, title: str, yields: Yields, stager: str) -> Reader:
    """A provider's admin API report (JSON pages): cost lines or token usage."""
    stager = f"apportion.ingest.{stager}"
    return Reader(name, title, yields, looks="json", suffixes=JSON_LINES, stager=stager)


# in --format's order; auto tries those of a file's kind in this order (a CSV's header readers,
# a JSON file's JSON readers), then the table readers on its columns
READERS: tuple[Reader, ...] = (
    _table("focus", "FOCUS cost file"),
    _table("drivers", "driver file"),
    _table("metrics", "business metrics"),
    Reader(
        "litellm",
        "LiteLLM spend logs",
        yields="drivers",
        looks="header",
        suffixes=CSV,
        stager="apportion.ingest.litellm:READER",
        usage_beside="gateway",
    ),
    Reader(
        "otel",
        "OpenTelemetry GenAI spans",
        yields="drivers",
        looks="json",
        suffixes=JSON_LINES,
        stager="apportion.ingest.otel:READER",
        usage_beside="telemetry",
    ),
    Reader(
        "opencost",
        "OpenCost allocation API answer",
        yields="drivers",
        looks="json",
        suffixes=JSON_LINES,
        stager="apportion.ingest.opencost:JSON_READER",
    ),
    Reader(
        "opencost-csv",
        "OpenCost CSV export",
        yields="drivers",
        looks="header",
        suffixes=CSV,
        stager="apportion.ingest.opencost:CSV_READER",
    ),
    Reader(
        "prometheus",
        "Prometheus query result (DCGM, kube-state-metrics)",
        yields="drivers",
        looks="json",
        suffixes=JSON_LINES,
        stager="apportion.ingest.prometheus:READER",
    ),
    _native("aws-cur", "AWS Cost and Usage Report", "AWS_CUR"),
    _native("aws-cur2", "AWS CUR 2.0 export", "AWS_CUR2"),
    _native("azure-ea", "Azure EA cost export", "AZURE_EA"),
    # the same columns as azure-ea: auto reads the actual-cost export, this one only when named
    _native(
        "azure-ea-amortized",
        "Azure EA cost export (amortized cost)",
        "AZURE_EA_AMORTIZED",
        auto=False,
    ),
    _native("azure-mca", "Azure MCA cost details export (actual cost)", "AZURE_MCA"),
    _native(
        "azure-mca-amortized",
        "Azure MCA cost details export (amortized cost)",
        "AZURE_MCA_AMORTIZED",
        auto=False,
    ),
    Reader(
        "gcp",
        "Google Cloud billing export",
        yields="focus",
        looks="json",  # BigQuery's export saved as JSON lines or a JSON array
        suffixes=JSON_LINES,
        stager="apportion.ingest.gcp:GCP",
    ),
    _native("oci", "OCI cost report", "OCI"),
    _report("openai-costs", "OpenAI Costs API", "focus", "openai:COSTS"),
    _report("openai-usage", "OpenAI Usage API", "usage", "openai:USAGE"),
    _report("anthropic-costs", "Anthropic cost report", "focus", "anthropic:COSTS"),
    _report("anthropic-usage", "Anthropic usage report", "usage", "anthropic:USAGE"),
)
BY_NAME: dict[str, Reader] = {reader.name: reader for reader in READERS}
# every --format value, in the order the command line and the README list them
FORMATS: tuple[str, ...] = (AUTO, *BY_NAME)


def reader(name: str) -> Reader:
    """The reader a --format value names (not "auto")."""
    return BY_NAME[name]


def format_named(name: str) -> Format:
    """A --format value, checked."""
    if name not in FORMATS:
        raise ValueError(f"no input format {name!r} (one of {', '.join(FORMATS)})")
    return cast(Format, name)


def recognisable(looks: Looks, suffix: str) -> list[Reader]:
    """The readers --format auto tries, in order, on a file of this suffix by what it looks
    at (a CSV's header, a JSON file's first object, a table's staged columns)."""
    return [r for r in READERS if r.auto and r.looks == looks and suffix in r.suffixes]
