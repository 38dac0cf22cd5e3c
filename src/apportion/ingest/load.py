"""Loading files: content-hashed raw store, idempotency, and atomic partition replacement.

A partition is (source, billing period). A file for a partition that already holds data from
another file replaces it (a restated bill) and the difference in totals is reported. All files
named in one call load in one transaction: if any file is unusable, nothing changes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from apportion.config import Config
from apportion.engine.dataplane import DataPlane, FileError, staged_column
from apportion.engine.tables import LOADS
from apportion.ingest import anthropic, drivers, focus, litellm, metrics, openai, otel, usage
from apportion.ingest.categories import categoriser
from apportion.ingest.files import open_text, reading_suffix, stored_suffix
from apportion.ingest.gcp import GCP
from apportion.ingest.native import EXPORTS, Native, native_table
from apportion.ingest.reports import BOM, Report, read_pages, recognised, report_table
from apportion.money import EXACT, plain
from apportion.progress import Progress, quiet
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.schema.focus import canonical_name as focus_name
from apportion.tags.policy import load_policy
from apportion.workspace import Workspace

Format = Literal[
    "auto",
    "focus",
    "drivers",
    "openai-costs",
    "openai-usage",
    "anthropic-costs",
    "anthropic-usage",
    "aws-cur",
    "aws-cur2",
    "azure-ea",
    "azure-ea-amortized",
    "azure-mca",
    "azure-mca-amortized",
    "gcp",
    "oci",
    "litellm",
    "otel",
    "metrics",
]
# provider reports, by their --format name: cost reports read as FOCUS cost lines, usage
# reports as token usage
REPORTS: dict[str, Report] = {
    report.name: report for report in (openai.COSTS, openai.USAGE, anthropic.COSTS, anthropic.USAGE)
}
# native cloud exports mapped to FOCUS cost lines, by their --format name
NATIVES: dict[str, Native] = {native.name: native for native in (*EXPORTS, GCP)}
# the table each kind of file loads into, and the kind its quarantined rows are recorded as
_TABLES = {
    "focus": t.COST_LINES,
    "drivers": t.DRIVERS,
    "usage": t.USAGE,
    "metrics": t.BUSINESS_METRICS,
}
_QUARANTINE_KINDS = {
    t.COST_LINES: "cost",
    t.DRIVERS: "driver",
    t.USAGE: "usage",
    t.BUSINESS_METRICS: "metrics",
}
# whose usage a gateway log's or span export's companion rows are
_ORIGINS = {"litellm": "gateway", "otel": "telemetry"}

_CSV = {".csv"}
_PARQUET = {".parquet", ".pq"}
_JSON_LINES = {".jsonl", ".ndjson", ".json"}
_MONEY_LIMIT = Decimal(10) ** (38 - t.MONEY_SCALE)  # a DECIMAL(38, 18) holds less than this
# a pretty-printed JSON file is parsed whole to see whether it is a report only up to this size
REPORT_SNIFF_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Difference:
    period: str
    currency: str
    metric: str
    before: Decimal
    after: Decimal

    @property
    def change(self) -> Decimal:
        return EXACT.subtract(self.after, self.before)


@dataclass
class IngestResult:
    file: str
    source: str
    kind: str  # focus | drivers | usage | metrics
    file_hash: str
    status: str = "loaded"  # loaded | replaced | unchanged
    rows: int = 0
    quarantined: int = 0
    periods: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Companion:
    """Rows a file gives to a second table: a gateway log's or a span export's usage beside
    its drivers. They share the file's source and periods, and are replaced with it."""

    table: str
    rows: ir.Table
    quarantine: ir.Table


@dataclass
class _Staged:
    path: Path
    result: IngestResult
    table: str  # cost_lines | drivers | usage
    current: bool  # this content is already the data of its source
    # the parsed rows; None for a current file, parsed only if a partition it shares reloads
    rows: ir.Table | None = None
    quarantine: ir.Table | None = None
    # a driver file's dimensions (its columns); a bill's tag keys are read when it loads
    keys: list[str] = field(default_factory=list)
    companions: list[_Companion] = field(default_factory=list)
    loaded: bool = False


def ingest_files(
    workspace: Workspace,
    paths: Sequence[Path],
    *,
    fmt: Format = "auto",
    source: str | None = None,
    also: bool = False,
    progress: Progress | None = None,
) -> list[IngestResult]:
    """Load files; ``also`` says a bill that shares a provider, billing account and month with
    another source's is a separate bill, not a restatement of it."""
    plane = workspace.data
    say = progress or quiet
    staged: list[_Staged] = []
    seen: set[str] = set()
    for path in paths:
        _refuse_unreadable(path)
        file_hash = _sha256(path)
        if file_hash in seen:
            continue  # the same content named twice (a glob and a name, or a copy) loads once
        seen.add(file_hash)
        name = source or path.stem
        holders, emptied = _holders(plane, file_hash)
        _refuse_elsewhere(path, name, holders)
        # a gateway log or span export loaded before they gave usage loads again, for it
        current = (name in holders and not _lacks_usage(plane, path, fmt, file_hash)) or (
            not holders and name in emptied
        )
        item = _recorded(plane, path, name, file_hash) if current else None
        if item is None:
            say(f"reading {path.name}")
            item = _stage(workspace, plane, path, file_hash, fmt, name, current=current)
        staged.append(item)
    if not also:
        for item in staged:
            if not item.current:
                _refuse_second_source(plane, item)
    pending = _pending(plane, staged)
    for item in pending:
        if item.rows is None:  # unchanged, but a partition it shares is rebuilt from all files
            say(f"reading {item.path.name}")
            parsed = _stage(
                workspace,
                plane,
                item.path,
                item.result.file_hash,
                fmt,
                item.result.source,
                current=True,
            )
            item.result, item.rows, item.quarantine = parsed.result, parsed.rows, parsed.quarantine
            item.keys, item.companions = parsed.keys, parsed.companions
    for item in pending:
        _keep_raw(workspace, item)  # content-addressed, so keeping it early is harmless
    with plane.transaction():
        for item in staged:
            if item not in pending:
                item.result.status = "unchanged"
                continue
            say(f"loading {item.path.name}")
            _load(plane, item, [other for other in pending if other is not item])
    results = [item.result for item in staged]
    _note_closed_periods(workspace, results)
    return results


def _note_closed_periods(workspace: Workspace, results: list[IngestResult]) -> None:
    """A closed period never changes: new data for it waits for `apportion period adjust`."""
    from apportion.ledger.periods import CLOSED, status

    for result in results:
        if result.status == "unchanged":
            continue
        for period in result.periods:
            if status(workspace.control, period).state == CLOSED:
                result.notes.append(
                    f"{period} is closed: its statements stay as closed; `apportion period "
                    f"adjust {period}` posts what this changed as adjustments to the next open "
                    "period"
                )


def _lacks_usage(plane: DataPlane, path: Path, fmt: Format, file_hash: str) -> bool:
    if _reader(path, fmt) not in ("litellm", "otel"):
        return False
    usage, quarantine = plane.table(t.USAGE), plane.table(t.QUARANTINE)
    loaded = usage.filter(usage[t.FILE_HASH] == file_hash).count()
    refused = quarantine.filter(
        (quarantine[t.FILE_HASH] == file_hash) & (quarantine.kind == "usage")
    )
    return not plane.scalar(loaded) and not plane.scalar(refused.count())


def _refuse_mixed_usage(plane: DataPlane, path: Path, source: str, origin: str) -> None:
    """A source's usage comes from one origin: a provider's report and a gateway's log under
    one source would replace each other's months."""
    usage = plane.table(t.USAGE)
    other = usage.filter(
        (usage[t.SOURCE] == source) & (usage.origin.fill_null("provider") != origin)
    )
    found = plane.to_arrow(other.select(origin=other.origin.fill_null("provider")).limit(1))
    if found.num_rows:
        raise FileError(
            f"{path.name}: source {source!r} holds {found['origin'][0]} usage; this file's "
            f"{origin} usage needs a source of its own (--source)"
        )


def _refuse_elsewhere(path: Path, name: str, holders: set[str]) -> None:
    elsewhere = min(holders - {name}, default=None)
    if elsewhere:
        raise FileError(
            f"{path.name}: this content is already loaded as source {elsewhere!r}; loading it "
            f"again as {name!r} would count it twice (use --source {elsewhere} to restate it)"
        )


def _refuse_second_source(plane: DataPlane, item: _Staged) -> None:
    """A restated bill saved under a new file name would load as a second source and count
    the month twice: a bill whose provider, billing account and month another source already
    holds is refused, naming that source. Lines without a billing account say nothing of
    whose bill they are, and are not compared."""
    if item.table != t.COST_LINES or item.rows is None:
        return
    rows = item.rows.filter(item.rows.BillingAccountId.notnull())
    mine = rows.select(
        provider=rows.ProviderName.fill_null(""),
        account=rows.BillingAccountId,
        period=rows[t.BILLING_PERIOD],
    ).distinct()
    lines = plane.table(t.COST_LINES)
    lines = lines.filter((lines[t.SOURCE] != item.result.source) & lines.BillingAccountId.notnull())
    held = lines.select(
        provider=lines.ProviderName.fill_null(""),
        account=lines.BillingAccountId,
        period=lines[t.BILLING_PERIOD],
        holder=lines[t.SOURCE],
    ).distinct()
    both = held.join(mine, ["provider", "account", "period"])
    found = plane.to_arrow(both.order_by(["period", "holder"]).limit(1)).to_pylist()
    if found:
        first = found[0]
        holder, name = first["holder"], item.result.source
        raise FileError(
            f"{item.path.name}: {first['provider'] or 'the provider'}'s bill for billing "
            f"account {first['account']} in {first['period']} is already loaded as source "
            f"{holder!r}; loading this file as source {name!r} would count that month twice. "
            f"If it restates that bill, load it with --source {holder}; if it is a separate "
            "bill, add --also"
        )


def _recorded(plane: DataPlane, path: Path, name: str, file_hash: str) -> _Staged | None:
    """A file already current in its source, as its load recorded it, so that an unchanged file
    is not parsed again; None when no load of it is recorded."""
    loads = plane.table(t.LOADS)
    latest = (
        loads.filter((loads[t.SOURCE] == name) & (loads[t.FILE_HASH] == file_hash))
        .order_by(ibis.desc("loaded_at"))
        .select("kind", "rows", "quarantined", "periods")
        .limit(1)
    )
    recorded = plane.to_arrow(latest).to_pylist()
    if not recorded:
        return None
    load = recorded[0]
    result = IngestResult(
        file=path.name,
        source=name,
        kind=load["kind"],
        file_hash=file_hash,
        rows=load["rows"],
        quarantined=load["quarantined"],
        periods=[p for p in load["periods"].split(",") if p],
    )
    table = _TABLES[load["kind"]]
    return _Staged(path, result, table, current=True)


def _stage(
    workspace: Workspace,
    plane: DataPlane,
    path: Path,
    file_hash: str,
    fmt: Format,
    name: str,
    *,
    current: bool,
) -> _Staged:
    """Parse a file into rows and quarantine (lazily: filters over one materialised table)."""
    suffix = reading_suffix(path)
    notes: list[str] = []
    reader = _reader(path, fmt)
    # a gateway log's or span export's usage, loaded beside its drivers
    usage_text: pa.Table | None = None
    if reader == "otel":
        policy = load_policy(workspace.config, workspace.root)
        spans = otel.read(path, policy, workspace.config.dimensions)
        raw, usage_text = plane.stage_arrow(spans.drivers), spans.usage
        named = {c: c for c in plane.staged_columns(raw)}
        fmt = "drivers"
        notes.append("read as OpenTelemetry GenAI spans (otel): llm_tokens drivers and usage")
        if spans.skipped:
            notes.append(f"skipped {spans.skipped} spans without token usage")
    elif isinstance(reader, Report):
        pages = read_pages(path)
        raw = plane.stage_arrow(report_table(reader, pages, path.name))
        named = {c: c for c in plane.staged_columns(raw)}
    elif reader == "litellm":
        policy = load_policy(workspace.config, workspace.root)
        log = litellm.read(path, policy, workspace.config.dimensions)
        raw, usage_text = plane.stage_arrow(log.drivers), log.usage
        named = {c: c for c in plane.staged_columns(raw)}
        fmt = "drivers"
        notes.append(
            "read as LiteLLM spend logs (litellm): llm_tokens and llm_spend drivers and usage"
        )
        if log.cache_hits:
            notes.append(f"{log.cache_hits} requests answered from the gateway's cache: no usage")
    elif isinstance(reader, Native):
        raw = plane.stage_arrow(native_table(reader, path))
        named = {c: c for c in plane.staged_columns(raw)}
        fmt = "focus"
        notes.append(f"read as {reader.title} ({reader.name}), mapped to FOCUS")
    elif suffix in _CSV:
        headers = _csv_headers(path)
        raw = plane.stage_csv(path, len(headers))
        named = {staged_column(i): header for i, header in enumerate(headers)}
    elif suffix in _PARQUET or suffix in _JSON_LINES:
        if suffix in _PARQUET:
            _refuse_wide_decimals(path)
        raw = plane.stage_parquet(path) if suffix in _PARQUET else plane.stage_json_lines(path)
        # stringify so the same parsers apply; keep native timestamps for drivers
        named = {c: c for c in plane.staged_columns(raw)}
    else:
        raise FileError(f"{path.name}: unsupported file type {suffix!r} (csv, parquet, jsonl)")

    config = workspace.config
    report = reader if isinstance(reader, Report) else None
    kind: str = report.kind if report else _kind(list(named.values()), fmt, config, path)
    result = IngestResult(file=path.name, source=name, kind=kind, file_hash=file_hash)
    result.notes += notes
    if report is not None:
        result.notes.append(f"read as {report.title} pages ({report.name})")
    keys: list[str] = []
    if kind == "usage" or usage_text is not None:
        origin = "provider" if usage_text is None else _ORIGINS[str(reader)]
        _refuse_mixed_usage(plane, path, name, origin)
    if kind == "usage":
        read = usage.normalise(
            raw, source=name, file_hash=file_hash, file_name=path.name, plane=plane
        )
        rows, quarantine, table = read.rows, read.quarantine, t.USAGE
    elif kind == "focus":
        normalised = focus.normalise(
            raw,
            named,
            source=name,
            file_hash=file_hash,
            file_name=path.name,
            default_currency=config.default_currency,
            categorise=categoriser(config.categories, config.dimensions),
            plane=plane,
        )
        if not any(h.strip().lower() == "billingcurrency" for h in named.values()):
            result.notes.append(f"no BillingCurrency column: read as {config.default_currency}")
        rows, quarantine, table = normalised.lines, normalised.quarantine, t.COST_LINES
    elif kind == "metrics":
        delivered = metrics.normalise(
            raw,
            named,
            workload=config.ledger.workload,
            default_currency=config.default_currency,
            source=name,
            file_hash=file_hash,
            file_name=path.name,
            plane=plane,
        )
        if delivered.ignored_columns:
            result.notes.append(f"ignored columns: {', '.join(delivered.ignored_columns)}")
        rows, quarantine, table = delivered.rows, delivered.quarantine, t.BUSINESS_METRICS
    else:
        found = drivers.normalise(
            raw,
            named,
            dimensions=config.dimensions,
            source=name,
            file_hash=file_hash,
            file_name=path.name,
            plane=plane,
        )
        if found.ignored_columns:
            result.notes.append(f"ignored columns: {', '.join(found.ignored_columns)}")
        rows, quarantine, table = found.rows, found.quarantine, t.DRIVERS
        keys = list(found.dimensions)
    companions = []
    if usage_text is not None:
        read = usage.normalise(
            plane.stage_arrow(usage_text),
            source=name,
            file_hash=file_hash,
            file_name=path.name,
            plane=plane,
        )
        companions.append(_Companion(t.USAGE, read.rows, read.quarantine))
    if table == t.COST_LINES:
        _refuse_unsummable(plane, path, rows)
    result.rows, result.quarantined, result.periods = _counts(plane, rows, quarantine)
    for companion in companions:
        loaded, refused, periods = _counts(plane, companion.rows, companion.quarantine)
        result.quarantined += refused
        result.periods = sorted({*result.periods, *periods})
        result.notes.append(f"{loaded} {companion.table} rows beside the {result.kind}")
    return _Staged(path, result, table, current, rows, quarantine, keys, companions)


def _reader(path: Path, fmt: Format) -> Report | Native | Literal["otel", "litellm"] | None:
    """What reads a file that is not plain FOCUS or drivers: named by --format, or (auto)
    recognised from its CSV header or its first JSON object, each looked at once. A JSON-lines
    file of any other kind is read no further than its first line."""
    if fmt in REPORTS:
        return REPORTS[fmt]
    if fmt in NATIVES:
        return NATIVES[fmt]
    if fmt == "otel" or fmt == "litellm":
        return fmt
    if fmt != "auto":
        return None
    suffix = reading_suffix(path)
    if suffix in _JSON_LINES:
        first = _first_json(path)
        if otel.is_otlp(first):
            return "otel"
        if first is None:
            return None
        return _native(list(first), "json") or recognised([first], REPORTS)
    if suffix in _CSV:
        headers = [h.strip() for h in _csv_headers(path)]
        if litellm.recognise(headers):
            return "litellm"
        return _native(headers, "csv")
    return None


def _native(names: list[str], reads: str) -> Native | None:
    """The native export whose columns (a CSV header, a JSON object's keys) these are."""
    found = (n for n in NATIVES.values() if n.reads == reads and n.auto and n.recognise(names))
    return next(found, None)


def _first_json(path: Path) -> dict[str, Any] | None:
    """The file's first JSON object: its first line, or the whole file when that is one
    pretty-printed document (a saved API response); None when neither parses."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            line = next((line for line in handle if line.strip()), "")
        document = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        if path.stat().st_size > REPORT_SNIFF_BYTES:
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
    if isinstance(document, list):
        document = document[0] if document else None
    return document if isinstance(document, dict) else None


def _counts(plane: DataPlane, rows: ir.Table, quarantine: ir.Table) -> tuple[int, int, list[str]]:
    """Rows loaded, rows quarantined, and the billing periods either touches, in one query: each
    query is a job on Spark. A quarantined row whose period could not be read touches none."""
    both = rows.select(period=rows[t.BILLING_PERIOD], quarantined=ibis.literal(False)).union(
        quarantine.select(period=quarantine[t.BILLING_PERIOD], quarantined=ibis.literal(True))
    )
    counted = plane.to_arrow(
        both.group_by(["quarantined", "period"]).aggregate(n=both.count())
    ).to_pylist()
    loaded = sum(r["n"] for r in counted if not r["quarantined"])
    refused = sum(r["n"] for r in counted if r["quarantined"])
    periods = {r["period"] for r in counted if r["period"] is not None or not r["quarantined"]}
    return loaded, refused, sorted(periods)


def _kind(headers: list[str], fmt: Format, config: Config, path: Path) -> str:
    if fmt == "focus" or (fmt == "auto" and focus.recognise(headers)):
        return "focus"
    if fmt == "drivers" or (fmt == "auto" and drivers.recognise(headers, config.dimensions)):
        return "drivers"
    if fmt == "metrics" or (fmt == "auto" and metrics.recognise(headers, config.ledger.workload)):
        return "metrics"
    raise FileError(
        f"{path.name}: no recognisable schema: neither FOCUS cost columns (BilledCost, "
        "BillingPeriodStart, ...), driver columns (timestamp, driver, quantity) nor business "
        f"metrics (period, {config.ledger.workload}, decisions, ...)"
    )


def _pending(plane: DataPlane, staged: list[_Staged]) -> list[_Staged]:
    """Files whose content is not already the current data of their partitions, plus any file
    sharing a partition with one of those (a replaced partition is rebuilt from all of them)."""
    pending = [item for item in staged if not item.current]
    touched = {(i.table, i.result.source, p) for i in pending for p in i.result.periods}
    for item in staged:
        if item not in pending and any(
            (item.table, item.result.source, p) in touched for p in item.result.periods
        ):
            pending.append(item)
    return pending


def _holders(plane: DataPlane, file_hash: str) -> tuple[set[str], set[str]]:
    """The sources whose current data (loaded or quarantined rows) came from this content,
    and those that loaded it as a file with no rows at all (a quiet month: only its load
    says it is current), in one query: each is a job on Spark."""
    found = [
        table.filter(table[t.FILE_HASH] == file_hash).select(t.SOURCE, empty=ibis.literal(False))
        for table in (plane.table(name) for name in (*_TABLES.values(), t.QUARANTINE))
    ]
    loads = plane.table(t.LOADS)
    found.append(
        loads.filter(
            (loads[t.FILE_HASH] == file_hash) & (loads.rows == 0) & (loads.quarantined == 0)
        ).select(t.SOURCE, empty=ibis.literal(True))
    )
    rows = plane.to_arrow(found[0].union(*found[1:], distinct=True)).to_pylist()
    return {r[t.SOURCE] for r in rows if not r["empty"]}, {r[t.SOURCE] for r in rows if r["empty"]}


def _load(plane: DataPlane, item: _Staged, others: list[_Staged]) -> None:
    result = item.result
    source, periods = result.source, result.periods
    # files in the same call for the same partition must not delete each other's rows
    earlier = [o for o in others if o.result.source == source and o.loaded]
    shared = {p for o in earlier for p in o.result.periods}
    fresh = [p for p in periods if p not in shared]
    if item.table == t.COST_LINES:
        before = _totals(plane, source, fresh)
    existing = plane.table(item.table)
    replaced = plane.scalar(
        existing.filter(
            (existing[t.SOURCE] == source) & existing[t.BILLING_PERIOD].isin(fresh or [""])
        ).count()
    )
    plane.delete(item.table, {t.SOURCE: source, t.BILLING_PERIOD: fresh})
    plane.delete(
        t.QUARANTINE,
        {t.SOURCE: source, t.BILLING_PERIOD: fresh, "kind": _quarantine_kind(item)},
    )
    if replaced:
        # rows whose period could not be read belong to the file being superseded
        plane.delete(
            t.QUARANTINE,
            {t.SOURCE: source, t.BILLING_PERIOD: None, "kind": _quarantine_kind(item)},
        )
    rows, quarantine = item.rows, item.quarantine
    assert rows is not None and quarantine is not None, "a file is parsed before it loads"
    plane.insert(item.table, rows)
    plane.insert(t.QUARANTINE, quarantine)
    for companion in item.companions:
        kind = _QUARANTINE_KINDS[companion.table]
        plane.delete(companion.table, {t.SOURCE: source, t.BILLING_PERIOD: fresh})
        for period in [fresh, None] if replaced else [fresh]:
            plane.delete(t.QUARANTINE, {t.SOURCE: source, t.BILLING_PERIOD: period, "kind": kind})
        plane.insert(companion.table, companion.rows)
        plane.insert(t.QUARANTINE, companion.quarantine)
    # every key of the rows' map; the tags are scanned only for files that load
    keys = focus.tag_keys(plane, rows) if item.table == t.COST_LINES else item.keys
    plane.insert(
        t.LOADS,
        ibis.memtable(
            {
                t.SOURCE: [source],
                t.FILE_HASH: [result.file_hash],
                "file": [result.file],
                "kind": [result.kind],
                "raw_path": [f"raw/{result.file_hash}{stored_suffix(item.path)}"],
                "rows": [result.rows],
                "quarantined": [result.quarantined],
                "periods": [",".join(periods)],
                "loaded_at": [datetime.now(UTC).replace(tzinfo=None)],
                "keys": [keys],
            },
            schema=LOADS,
        ),
    )
    item.loaded = True
    if replaced:
        result.status = "replaced"
        if item.table == t.COST_LINES:
            after = _totals(plane, source, fresh)
            result.differences = [
                Difference(period, currency, metric, before.get(key, Decimal(0)), value)
                for key in sorted(set(before) | set(after))
                for (period, currency, metric), value in [(key, after.get(key, Decimal(0)))]
                if value != before.get(key, Decimal(0))
            ]


def _quarantine_kind(item: _Staged) -> str:
    return _QUARANTINE_KINDS[item.table]


def _totals(
    plane: DataPlane, source: str, periods: list[str]
) -> dict[tuple[str, str, str], Decimal]:
    if not periods:
        return {}
    lines = plane.table(t.COST_LINES)
    lines = lines.filter((lines[t.SOURCE] == source) & lines[t.BILLING_PERIOD].isin(periods))
    return _exact_totals(plane, lines)


def _exact_totals(plane: DataPlane, lines: ir.Table) -> dict[tuple[str, str, str], Decimal]:
    """Each cost metric summed by period and currency, exactly, however large: a plain SUM
    of DECIMAL(38, 18) overflows in the engine past 10^20 (a traceback). The whole parts are
    summed as DECIMAL(38, 0) and the fractions apart, and the two added in Python."""
    parts: dict[str, ir.Value] = {}
    for metric in COST_METRICS:
        whole = lines[metric].floor().cast("decimal(38, 0)")
        parts[f"{metric}_whole"] = whole.sum()
        parts[f"{metric}_part"] = (lines[metric] - whole).sum()
    sums = lines.group_by([t.BILLING_PERIOD, "BillingCurrency"]).aggregate(**parts)
    totals: dict[tuple[str, str, str], Decimal] = {}
    for row in plane.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            whole, part = row[f"{metric}_whole"], row[f"{metric}_part"]
            total = EXACT.add(whole or Decimal(0), part or Decimal(0))
            totals[(row[t.BILLING_PERIOD], row["BillingCurrency"], metric)] = total
    return totals


def _refuse_unsummable(plane: DataPlane, path: Path, rows: ir.Table) -> None:
    """A file whose lines add up, in a period, currency and cost metric, to more than a
    DECIMAL(38, 18) holds cannot be totalled, allocated or reported: refused whole."""
    for (period, currency, metric), total in sorted(_exact_totals(plane, rows).items()):
        if abs(total) >= _MONEY_LIMIT:
            raise FileError(
                f"{path.name}: {metric} in {period} ({currency}) adds up to {plain(total)}, "
                "more than the 20 whole digits an amount may have"
            )


def _keep_raw(workspace: Workspace, item: _Staged) -> None:
    target = workspace.raw_dir / f"{item.result.file_hash}{stored_suffix(item.path)}"
    if not target.exists():
        workspace.raw_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".partial")
        shutil.copyfile(item.path, partial)
        partial.replace(target)


def _csv_headers(path: Path) -> list[str]:
    try:
        with open_text(path) as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise FileError(f"{path.name}: the header line cannot be read ({exc})") from exc
    except (OSError, EOFError) as exc:  # a gzip file cut short or not gzip after all
        raise FileError(f"{path.name}: not a readable gzip file ({exc})") from exc
    if not header or not any(cell.strip() for cell in header):
        raise FileError(f"{path.name}: empty file or empty header line")
    # a file saved twice through a BOM-adding editor starts with two: the second would make
    # BilledCost an unknown column and every row load with no cost
    header[0] = header[0].lstrip(BOM)
    return header


def _refuse_wide_decimals(path: Path) -> None:
    """A Parquet decimal of more than 38 digits is read by the engines as DOUBLE, and its
    amounts come out scaled wrong (by 2^24 on DuckDB), silently: such a file is refused, and
    so is one with a column named twice."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return  # not readable Parquet: staging says so, in its own words
    # the engine renames a second copy (BilledCost_1), which would load as an extension
    # column while the first copy counts: refused as the CSV readers refuse it
    names = [focus_name(name) or name.strip() for name in schema.names]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise FileError(f"{path.name}: column {twice[0]} appears twice")
    for field_ in schema:
        wide = _wide_decimal(field_.type)
        if wide is not None:
            raise FileError(
                f"{path.name}: column {field_.name!r} is {wide}, more digits than an engine "
                "keeps exactly (38); write it as decimal(38, 18) or as text"
            )


def _wide_decimal(kind: pa.DataType) -> str | None:
    if pa.types.is_decimal(kind) and kind.precision > 38:
        return f"decimal({kind.precision}, {kind.scale})"
    children = [kind.field(i).type for i in range(kind.num_fields)] if kind.num_fields else []
    return next((found for c in children if (found := _wide_decimal(c)) is not None), None)


def _refuse_unreadable(path: Path) -> None:
    """Only a regular file is read: a directory or a device named by mistake says what it is
    (a device or a pipe could also block forever or never end)."""
    if path.is_dir():
        raise FileError(f"{path}: is a directory; name the files in it (e.g. {path}/*.csv)")
    if not path.exists():
        raise FileError(f"{path}: no such file")
    if not path.is_file():
        raise FileError(f"{path}: not a regular file (a device, pipe or socket)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise FileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return digest.hexdigest()
