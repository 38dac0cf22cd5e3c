"""Loading files: content-hashed raw store, idempotency, and atomic partition replacement.

A partition is (source, billing period). A file for a partition that already holds data from
another file replaces it (a restated bill) and the difference in totals is reported. All files
named in one call load in one transaction: if any file is unusable, nothing changes.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import ibis
import ibis.expr.types as ir

from apportion.config import Config
from apportion.engine.dataplane import DataPlane, FileError
from apportion.engine.tables import LOADS
from apportion.ingest import drivers, focus, metrics, registry, usage
from apportion.ingest.categories import categoriser
from apportion.ingest.files import reading_suffix, stored_suffix
from apportion.ingest.readers import (
    Look,
    Read,
    Staging,
    by_columns,
    recognised,
    stage_table,
    stager,
)
from apportion.ingest.registry import Format, Reader, Yields
from apportion.money import EXACT, plain
from apportion.progress import Progress, quiet
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace

__all__ = ["Difference", "Format", "IngestResult", "ingest_files"]

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
_MONEY_LIMIT = Decimal(10) ** (38 - t.MONEY_SCALE)  # a DECIMAL(38, 18) holds less than this


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
        current = (name in holders and not _lacks_usage(workspace, path, fmt, file_hash)) or (
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
    changed = [result for result in results if result.status != "unchanged"]
    closed = workspace.control.closed_periods(p for r in changed for p in r.periods)
    for result in changed:
        for period in result.periods:
            if period in closed:
                result.notes.append(
                    f"{period} is closed: its statements stay as closed; `apportion period "
                    f"adjust {period}` posts what this changed as adjustments to the next open "
                    "period"
                )


def _lacks_usage(workspace: Workspace, path: Path, fmt: Format, file_hash: str) -> bool:
    reader = _reader(Look(path, workspace.config), fmt)
    if reader is None or not reader.companions:
        return False
    plane = workspace.data
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
    reading_suffix(path)  # a compressed file other than CSV is refused before any reader
    config = workspace.config
    look = Look(path, config)
    reader = _reader(look, fmt)
    if reader is None:  # a table file read as it is: its columns tell its kind
        read = stage_table(path, plane)
        look.columns = list(read.named.values())
        reader = _kind(look)
    else:
        read = stager(reader).stage(path, Staging(plane, config, workspace.root))
    kind = reader.yields
    result = IngestResult(file=path.name, source=name, kind=kind, file_hash=file_hash)
    result.notes += read.notes
    if kind == "usage" or reader.usage_beside is not None:
        _refuse_mixed_usage(plane, path, name, reader.usage_beside or "provider")
    into = _Into(plane, config, name, file_hash, path.name)
    parsed = _PARSERS[kind](read, into)
    rows, quarantine, table = parsed.rows, parsed.quarantine, _TABLES[kind]
    result.notes += parsed.notes
    companions = []
    if read.usage is not None:  # a gateway log's or span export's usage, beside its drivers
        beside = _usage(Read(plane.stage_arrow(read.usage), {}), into)
        companions.append(_Companion(t.USAGE, beside.rows, beside.quarantine))
    if table == t.COST_LINES:
        _refuse_unsummable(plane, path, rows)
    result.rows, result.quarantined, result.periods = _counts(plane, rows, quarantine)
    for companion in companions:
        loaded, refused, periods = _counts(plane, companion.rows, companion.quarantine)
        result.quarantined += refused
        result.periods = sorted({*result.periods, *periods})
        result.notes.append(f"{loaded} {companion.table} rows beside the {result.kind}")
    return _Staged(path, result, table, current, rows, quarantine, parsed.keys, companions)


@dataclass(frozen=True)
class _Into:
    """What a file's staged rows are parsed for: the plane, the workspace's configuration, and
    the source and file they are recorded under."""

    plane: DataPlane
    config: Config
    source: str
    file_hash: str
    file_name: str


@dataclass
class _Parsed:
    rows: ir.Table
    quarantine: ir.Table
    keys: list[str] = field(default_factory=list)  # a driver file's dimensions
    notes: list[str] = field(default_factory=list)


def _usage(read: Read, into: _Into) -> _Parsed:
    parsed = usage.normalise(
        read.raw,
        source=into.source,
        file_hash=into.file_hash,
        file_name=into.file_name,
        plane=into.plane,
    )
    return _Parsed(parsed.rows, parsed.quarantine)


def _cost_lines(read: Read, into: _Into) -> _Parsed:
    config = into.config
    normalised = focus.normalise(
        read.raw,
        read.named,
        source=into.source,
        file_hash=into.file_hash,
        file_name=into.file_name,
        default_currency=config.default_currency,
        categorise=categoriser(config.categories, config.dimensions),
        plane=into.plane,
    )
    notes = []
    if not any(h.strip().lower() == "billingcurrency" for h in read.named.values()):
        notes.append(f"no BillingCurrency column: read as {config.default_currency}")
    return _Parsed(normalised.lines, normalised.quarantine, notes=notes)


def _metrics(read: Read, into: _Into) -> _Parsed:
    delivered = metrics.normalise(
        read.raw,
        read.named,
        workload=into.config.ledger.workload,
        default_currency=into.config.default_currency,
        source=into.source,
        file_hash=into.file_hash,
        file_name=into.file_name,
        plane=into.plane,
    )
    return _Parsed(delivered.rows, delivered.quarantine, notes=_ignored(delivered.ignored_columns))


def _drivers(read: Read, into: _Into) -> _Parsed:
    found = drivers.normalise(
        read.raw,
        read.named,
        dimensions=into.config.dimensions,
        source=into.source,
        file_hash=into.file_hash,
        file_name=into.file_name,
        plane=into.plane,
    )
    keys = list(found.dimensions)
    return _Parsed(found.rows, found.quarantine, keys, _ignored(found.ignored_columns))


def _ignored(columns: Sequence[str]) -> list[str]:
    return [f"ignored columns: {', '.join(columns)}"] if columns else []


# how each kind of row is parsed from a file's staged rows
_PARSERS: dict[Yields, Callable[[Read, _Into], _Parsed]] = {
    "focus": _cost_lines,
    "drivers": _drivers,
    "usage": _usage,
    "metrics": _metrics,
}


def _reader(look: Look, fmt: Format) -> Reader | None:
    """The reader --format names, or (auto) the one that recognises the file by its CSV header
    or its first JSON object; None for a file auto reads as a table (its columns tell)."""
    if fmt != registry.AUTO:
        return registry.reader(fmt)
    return recognised(look)


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


def _kind(look: Look) -> Reader:
    """The table reader --format auto reads a staged file with, by its columns."""
    found = by_columns(look)
    if found is None:
        workload = look.config.ledger.workload
        raise FileError(
            f"{look.path.name}: no recognisable schema: neither FOCUS cost columns (BilledCost, "
            "BillingPeriodStart, ...), driver columns (timestamp, driver, quantity) nor business "
            f"metrics (period, {workload}, decisions, ...)"
        )
    return found


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
    sums = lines.group_by([t.BILLING_PERIOD, col.BILLING_CURRENCY]).aggregate(**parts)
    totals: dict[tuple[str, str, str], Decimal] = {}
    for row in plane.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            whole, part = row[f"{metric}_whole"], row[f"{metric}_part"]
            total = EXACT.add(whole or Decimal(0), part or Decimal(0))
            totals[(row[t.BILLING_PERIOD], row[col.BILLING_CURRENCY], metric)] = total
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
