"""Every reader survives hostile input: seeded mutations of every format's fixture, ingested
through the command line into a fresh workspace, each end in one of three ways.

- loaded: exit 0; loaded plus quarantined money is finite and nothing is silently lost. For
  FOCUS files the amounts are checked exactly against Python's own reading of the file; for
  a neutral change (a BOM, CRLF line ends, gzip, a quoted newline in a text cell) the loaded
  figures are those of the unchanged fixture.
- quarantined: as loaded, with the refused rows' money counted (`apportion quarantine`).
- refused: exit 2 with exactly one line of message, and the workspace unchanged.
Never a traceback, never exit 1 for bad input.

APPORTION_MUTATIONS sets how many cases (default 36: two per format; `make fuzz` runs
thousands), APPORTION_MUTATION_SEED the seed and APPORTION_MUTATION_KINDS which mutations
(comma-separated names). A failure names the format, the mutation and the case number: the
mutated file is rebuilt from those alone.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.ingest.quarantine import money_at_stake, quarantined
from apportion.money import EXACT
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace
from tests.helpers import FIXTURES, FOCUS_SAMPLE, write_drivers
from tests.ingest.cur import CUR

# DuckDB only: the readers are engine-independent Python and SQL staging, and a Spark run
# of hundreds of ingests would cost minutes per case
pytestmark = pytest.mark.mutations

COUNT = int(os.environ.get("APPORTION_MUTATIONS", "36"))
SEED = int(os.environ.get("APPORTION_MUTATION_SEED", "20261207"))
# only these mutations (comma-separated names), to aim a run at one class of fault
KINDS = {k for k in os.environ.get("APPORTION_MUTATION_KINDS", "").split(",") if k}
HERE = Path(__file__).parent / "fixtures"
NATIVE = FIXTURES / "native-billing"

# what hostile input puts where a number belongs
HOSTILE_NUMBERS = (
    "1e99999999999999999999",
    "1e99999",
    "-1E+400",
    "Infinity",
    "-Infinity",
    "NaN",
    "sNaN",
    "99999999999999999999999999",
    "0.0000000000000000000001",
    "12,5O",
    "",
    "-0",
    "１２",  # full-width digits
)
HUGE_COUNTS = ("9223372036854775808", "99999999999999999999999", "-9223372036854775809", "1e30")
MONEY_NAME = re.compile(r"cost|amount|price|spend|charge|fee|value|credit|usage", re.IGNORECASE)
COUNT_NAME = re.compile(r"token|quantity|requests|decisions|users", re.IGNORECASE)
FREE_TEXT = re.compile(r"name|description|unit$", re.IGNORECASE)
PARSED = re.compile(r"id$|date|time|period|currency|cost|price|type|category", re.IGNORECASE)


@dataclass(frozen=True)
class Fixture:
    """One reader's input: the --format it is read with and how its file is laid out."""

    name: str
    fmt: str
    layout: str  # csv | jsonl | json | parquet
    build: Callable[[Path], Path]
    kind: str = "cost"  # what the rows become: cost | driver | usage | metrics


def _lines(source: Path, keep: int) -> Callable[[Path], Path]:
    """The header and the first ``keep`` data lines of a large fixture, to keep cases fast."""

    def build(into: Path) -> Path:
        with source.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[: keep + 1]
        return _write_rows(into / source.name, rows)

    return build


def _copy(source: Path) -> Callable[[Path], Path]:
    return lambda into: Path(shutil.copy(source, into / source.name))


def _as_ea(source: Path) -> Callable[[Path], Path]:
    """An MCA export with an EA export's header (PascalCase, no billing profile)."""

    def build(into: Path) -> Path:
        lines = source.read_text(encoding="utf-8").splitlines()
        header = [name[:1].upper() + name[1:] for name in lines[0].split(",")]
        path = into / f"ea-{source.name}"
        path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
        return path

    return build


def _focus_parquet(into: Path) -> Path:
    """The FOCUS sample's first rows as Parquet, money as DECIMAL(38, 10) like real exports."""
    table = pacsv.read_csv(
        _lines(FOCUS_SAMPLE, 30)(into),
        convert_options=pacsv.ConvertOptions(
            column_types={m: pa.decimal128(38, 10) for m in COST_METRICS}, strings_can_be_null=True
        ),
    )
    path = into / "focus.parquet"
    pq.write_table(table, path)
    return path


def _drivers(into: Path) -> Path:
    rows = [
        {
            "timestamp": f"2026-10-0{day}T1{hour}:00:00Z",
            "driver": "gpu_seconds",
            "quantity": str(day * 10 + hour),
            "resource_id": "gpu",
            "use_case": "bot" if hour % 2 else "search",
            "cost_centre": "cs",
        }
        for day in range(1, 4)
        for hour in range(3)
    ]
    return write_drivers(into / "drivers.csv", rows)


def _metrics(into: Path) -> Path:
    rows = [
        ["period", "use_case", "decisions", "unit", "users", "revenue", "cost_saved", "currency"],
        ["2026-10", "support-bot", "120000", "tickets", "800", "", "45000.50", "USD"],
        ["2026-10", "fraud-scorer", "2500000", "transactions", "", "1200", "310000", ""],
        ["2026-11", "doc-search", "4000", "searches", "12", "", "", "EUR"],
    ]
    return _write_rows(into / "metrics.csv", rows)


FIXTURE_LIST = (
    Fixture("focus-csv", "focus", "csv", _lines(FOCUS_SAMPLE, 30)),
    Fixture("focus-parquet", "focus", "parquet", _focus_parquet),
    Fixture("aws-cur", "aws-cur", "csv", _lines(CUR, 30)),
    Fixture("aws-cur2", "aws-cur2", "csv", _copy(HERE / "aws-cur2-export.csv")),
    Fixture(
        "azure-ea",
        "azure-ea",
        "csv",
        _copy(NATIVE / "azure-ea" / "sample-anonymous-ea-export-dataset.csv"),
    ),
    Fixture(
        "azure-ea-amortized",
        "azure-ea-amortized",
        "csv",
        _as_ea(HERE / "azure-mca-amortized-cost.csv"),
    ),
    Fixture("azure-mca", "azure-mca", "csv", _copy(HERE / "azure-mca-actual-cost.csv")),
    Fixture(
        "azure-mca-amortized",
        "azure-mca-amortized",
        "csv",
        _copy(HERE / "azure-mca-amortized-cost.csv"),
    ),
    Fixture("gcp", "gcp", "jsonl", _copy(HERE / "gcp-billing-export.jsonl")),
    Fixture(
        "oci", "oci", "csv", _lines(NATIVE / "oci" / "reports_cost-csv_0000000030000269.csv", 30)
    ),
    Fixture("openai-costs", "openai-costs", "json", _copy(HERE / "openai-costs.json")),
    Fixture("openai-usage", "openai-usage", "json", _copy(HERE / "openai-usage.json"), "usage"),
    Fixture(
        "anthropic-costs", "anthropic-costs", "json", _copy(HERE / "anthropic-cost-report.json")
    ),
    Fixture(
        "anthropic-usage",
        "anthropic-usage",
        "json",
        _copy(HERE / "anthropic-usage-report.json"),
        "usage",
    ),
    Fixture("litellm", "litellm", "csv", _copy(HERE / "litellm-spend-logs.csv"), "driver"),
    Fixture("otel", "otel", "jsonl", _copy(HERE / "otel-genai-spans.jsonl"), "driver"),
    Fixture("opencost", "opencost", "json", _copy(HERE / "opencost-allocation.json"), "driver"),
    Fixture("opencost-csv", "opencost-csv", "csv", _copy(HERE / "opencost-export.csv"), "driver"),
    Fixture(
        "prometheus", "prometheus", "json", _copy(HERE / "prometheus-dcgm-range.json"), "driver"
    ),
    Fixture("drivers", "drivers", "csv", _drivers, "driver"),
    Fixture("metrics", "metrics", "csv", _metrics, "metrics"),
)
FIXTURES_BY_NAME = {fixture.name: fixture for fixture in FIXTURE_LIST}


# ---- mutations: (file bytes, random) -> new bytes and the file's new suffix, or None ---------

Mutated = tuple[bytes, str] | None
Mutation = Callable[[bytes, random.Random, str], Mutated]


def _flip_byte(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    if not data:
        return None
    at = rng.randrange(len(data))
    return data[:at] + bytes([data[at] ^ rng.randrange(1, 256)]) + data[at + 1 :], suffix


def _truncate(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return (data[: rng.randrange(1, len(data))], suffix) if len(data) > 1 else None


def _empty(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return b"", suffix


def _bom(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return b"\xef\xbb\xbf" + data, suffix


def _double_bom(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return b"\xef\xbb\xbf\xef\xbb\xbf" + data, suffix


def _crlf(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), suffix


def _gzip(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    return gzip.compress(data, mtime=0), suffix + ".gz"


def _utf16(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    try:
        return data.decode("utf-8").encode("utf-16"), suffix
    except UnicodeDecodeError:
        return None


def _latin1(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    """A non-ASCII character written in Latin-1 inside a text cell: not UTF-8."""
    return data.replace(b"e", b"\xe9", 1), suffix


def _line_op(op: str) -> Mutation:
    def mutate(data: bytes, rng: random.Random, suffix: str) -> Mutated:
        lines = data.splitlines(keepends=True)
        if len(lines) < 2:
            return None
        at = rng.randrange(1, len(lines))  # a data line: the header stays
        if op == "duplicate":
            lines.insert(at, lines[at] if lines[at].endswith(b"\n") else lines[at] + b"\n")
        elif op == "delete":
            del lines[at]
        else:  # header only
            lines = lines[:1]
        return b"".join(lines), suffix

    return mutate


def _csv_op(op: str) -> Mutation:
    """A change to one column or cell of a CSV, written back with Python's csv module."""

    def mutate(data: bytes, rng: random.Random, suffix: str) -> Mutated:
        try:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        except (UnicodeDecodeError, csv.Error):
            return None
        if len(rows) < 2 or not rows[0]:
            return None
        header = rows[0]
        money = [i for i, h in enumerate(header) if MONEY_NAME.search(h)]
        counts = [i for i, h in enumerate(header) if COUNT_NAME.search(h)]
        # free text only: a newline in a date or an id would rightly refuse the row
        texts = [i for i, h in enumerate(header) if FREE_TEXT.search(h) and not PARSED.search(h)]
        row = rng.randrange(1, len(rows))
        if op == "drop-column":
            column = rng.choice(money or range(len(header)))
            rows = [r[:column] + r[column + 1 :] for r in rows]
        elif op == "duplicate-column":
            column = rng.choice(money or range(len(header)))
            rows = [[*r, r[column]] if column < len(r) else r for r in rows]
        elif op == "hostile-number" and (money or counts):
            column = rng.choice(money + counts)
            choices = HUGE_COUNTS if column in counts else HOSTILE_NUMBERS
            _set(rows[row], column, rng.choice(choices))
        elif op == "quoted-newline" and texts:
            column = rng.choice(texts)
            _set(
                rows[row], column, (rows[row][column] if column < len(rows[row]) else "") + "\nnext"
            )
        else:
            return None
        return _csv_bytes(rows), suffix

    return mutate


def _json_number(data: bytes, rng: random.Random, suffix: str) -> Mutated:
    """A number in a JSON document replaced by a hostile literal: bare (Python's json reads
    NaN and Infinity), quoted, huge, or a count beyond int64."""
    text = data.decode("utf-8", errors="replace")
    numbers = list(re.finditer(r'("[A-Za-z_]+")\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)', text))
    if not numbers:
        return None
    found = rng.choice(numbers)
    key = found.group(1)
    literal = rng.choice(
        [*HUGE_COUNTS, "NaN", "Infinity", "-Infinity", "1e99999", '"sNaN"', '"NaN"', '"1e99999"']
        if COUNT_NAME.search(key)
        else [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e99999999999999999999",
            '"sNaN"',
            '"Infinity"',
            "1e400",
            "null",
            '"12,5O"',
        ]
    )
    mutated = text[: found.start(2)] + literal + text[found.end(2) :]
    return mutated.encode("utf-8"), suffix


def _parquet_op(op: str) -> Mutation:
    """A Parquet file whose schema says something hostile about money."""

    def mutate(data: bytes, rng: random.Random, suffix: str) -> Mutated:
        table = pq.read_table(io.BytesIO(data))
        metric = rng.choice(list(COST_METRICS))
        at = table.schema.get_field_index(metric)
        column = table.column(metric)
        if op == "wide-decimal":  # precision above 38: DuckDB reads it as DOUBLE
            table = table.set_column(at, metric, column.cast(pa.decimal256(40, 10)))
        elif op == "float":
            table = table.set_column(at, metric, column.cast(pa.float64()))
        elif op == "text-hostile":
            values = [str(v) if v is not None else None for v in column.to_pylist()]
            values[rng.randrange(len(values))] = rng.choice(HOSTILE_NUMBERS)
            table = table.set_column(at, metric, pa.array(values, pa.string()))
        elif op == "drop-column":
            table = table.remove_column(table.schema.get_field_index("BilledCost"))
        else:  # a money column named twice
            table = table.append_column(metric, column)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue(), suffix

    return mutate


def _set(row: list[str], column: int, value: str) -> None:
    while len(row) <= column:
        row.append("")
    row[column] = value


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    path.write_bytes(_csv_bytes(rows))
    return path


# changes that must not change what loads: the unchanged fixture's figures are the oracle
NEUTRAL = {"bom", "crlf", "gzip", "quoted-newline"}
# changes that keep every value: the file may be refused, but what loads is the fixture's
PRESERVING = {"double-bom", "utf-16", "wide-decimal"}
# one cell changed: every row still loads or is quarantined, none is lost or invented
ONE_CELL = {"hostile-number", "hostile-number-2", "text-hostile"}
COMMON: dict[str, Mutation] = {
    "flip-byte": _flip_byte,
    "truncate": _truncate,
    "empty": _empty,
}
TEXT: dict[str, Mutation] = {
    "duplicate-line": _line_op("duplicate"),
    "delete-line": _line_op("delete"),
    "header-only": _line_op("header-only"),
    "bom": _bom,
    "double-bom": _double_bom,
    "crlf": _crlf,
    "utf-16": _utf16,
    "latin-1": _latin1,
}
MUTATIONS: dict[str, dict[str, Mutation]] = {
    "csv": {
        **COMMON,
        **TEXT,
        "gzip": _gzip,
        "drop-column": _csv_op("drop-column"),
        "duplicate-column": _csv_op("duplicate-column"),
        "hostile-number": _csv_op("hostile-number"),
        "hostile-number-2": _csv_op("hostile-number"),  # weighted: the commonest real fault
        "quoted-newline": _csv_op("quoted-newline"),
    },
    "jsonl": {**COMMON, **TEXT, "hostile-number": _json_number, "hostile-number-2": _json_number},
    "json": {
        **COMMON,
        "bom": _bom,
        "crlf": _crlf,
        "utf-16": _utf16,
        "hostile-number": _json_number,
        "hostile-number-2": _json_number,
    },
    "parquet": {
        **COMMON,
        "wide-decimal": _parquet_op("wide-decimal"),
        "float": _parquet_op("float"),
        "text-hostile": _parquet_op("text-hostile"),
        "drop-column": _parquet_op("drop-column"),
        "duplicate-column": _parquet_op("duplicate-column"),
    },
}


def _cases(count: int, seed: int) -> list[Any]:
    """Round robin over the formats, a seeded choice of mutation for each: every format is
    covered once ``count`` reaches the number of formats."""
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        fixture = FIXTURE_LIST[number % len(FIXTURE_LIST)]
        names = sorted(n for n in MUTATIONS[fixture.layout] if not KINDS or n in KINDS)
        if not names:
            continue
        mutation = rng.choice(names)
        cases.append(
            pytest.param(fixture.name, mutation, number, id=f"{fixture.name}-{mutation}-{number}")
        )
    return cases


# ---- what a workspace holds ---------------------------------------------------------------


@dataclass(frozen=True)
class Holdings:
    tables: dict[str, int]  # rows per data-plane table
    raw: tuple[str, ...]  # files kept in raw/
    loaded: dict[str, Decimal]  # cost lines: each metric summed exactly, every currency
    quarantined_money: dict[str, dict[str, Decimal]]

    @property
    def kept(self) -> int:
        """Rows that reached a table of rows or the quarantine."""
        return sum(n for name, n in self.tables.items() if name != t.LOADS)


def _holdings(root: Path) -> Holdings:
    """Read with plain SQL on the DuckDB file: a case's checks should cost little beside its
    ingest. Amounts are summed in Python, exactly (a sum in the engine could overflow)."""
    ws = Workspace.open(root)
    try:
        con = ws.data.con.con  # type: ignore[attr-defined]
        # our own table names
        tables = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in _ROW_TABLES}
        metrics = ", ".join(f'"{m}"' for m in COST_METRICS)
        found = con.execute(f"SELECT {metrics} FROM {t.COST_LINES}").fetchall()
        loaded = {m: Decimal(0) for m in COST_METRICS}
        for row in found:
            for metric, amount in zip(COST_METRICS, row, strict=True):
                if amount is not None:
                    loaded[metric] = EXACT.add(loaded[metric], amount)
        money = money_at_stake(quarantined(ws.data)) if tables[t.QUARANTINE] else {}
    finally:
        ws.close()
    raw = tuple(sorted(p.name for p in (root / "raw").rglob("*") if p.is_file()))
    return Holdings(tables, raw, loaded, money)


_ROW_TABLES = {t.COST_LINES, t.DRIVERS, t.USAGE, t.BUSINESS_METRICS, t.QUARANTINE, t.LOADS}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mutations") / "template"
    Workspace.create(root, "version: 1\nrules: []\n").close()
    return root


_BASELINES: dict[str, Holdings] = {}


def _ingest(template: Path, into: Path, path: Path, fmt: str) -> tuple[Any, Path]:
    root = into / "ws"
    shutil.copytree(template, root)
    result = CliRunner().invoke(
        app, ["--workspace", str(root), "ingest", str(path), "--format", fmt]
    )
    return result, root


def _baseline(fixture: Fixture, template: Path, original: Path, into: Path) -> Holdings:
    if fixture.name not in _BASELINES:
        result, root = _ingest(template, into / "baseline", original, fixture.fmt)
        assert result.exit_code == 0, f"the unchanged {fixture.name} fixture loads: {result.output}"
        _BASELINES[fixture.name] = _holdings(root)
    return _BASELINES[fixture.name]


@pytest.mark.parametrize(("name", "mutation", "number"), _cases(COUNT, SEED))
def test_a_mutated_file_loads_exactly_quarantines_or_is_refused_whole(
    name: str, mutation: str, number: int, template: Path, tmp_path: Path
) -> None:
    fixture = FIXTURES_BY_NAME[name]
    (tmp_path / "original").mkdir()
    original = fixture.build(tmp_path / "original")
    rng = random.Random(f"{SEED}-{number}")
    mutated = MUTATIONS[fixture.layout][mutation](original.read_bytes(), rng, original.suffix)
    if mutated is None:  # not applicable to this file: a flipped byte instead
        mutation, mutated = "flip-byte", _flip_byte(original.read_bytes(), rng, original.suffix)
        assert mutated is not None
    data, suffix = mutated
    path = tmp_path / f"mutated{suffix}"
    path.write_bytes(data)

    result, root = _ingest(template, tmp_path, path, fixture.fmt)
    what = f"{name} / {mutation} / case {number}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"{what}: traceback: {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 2), f"{what}: exit {result.exit_code}: {result.output}"
    after = _holdings(root)
    if result.exit_code == 2:
        message = result.stderr.strip().splitlines()
        assert len(message) == 1, f"{what}: a refusal is one line, not {message}"
        assert after.kept == 0 and after.tables[t.LOADS] == 0, f"{what}: refused but changed"
        assert after.raw == (), f"{what}: refused but kept {after.raw}"
        assert mutation not in NEUTRAL, f"{what}: a neutral change was refused: {message}"
        return
    _check_loaded(fixture, mutation, what, data, suffix, after)
    if mutation in NEUTRAL | PRESERVING:
        base = _baseline(fixture, template, original, tmp_path)
        assert after.loaded == base.loaded, f"{what}: loaded other amounts than the fixture"
        assert after.quarantined_money == base.quarantined_money, f"{what}: quarantined others"
        assert after.kept == base.kept, f"{what}: kept {after.kept} rows, fixture {base.kept}"
    if mutation in ONE_CELL:
        base = _baseline(fixture, template, original, tmp_path)
        assert after.kept == base.kept, f"{what}: kept {after.kept} rows, fixture {base.kept}"
    if not after.tables[t.QUARANTINE]:
        return
    # the quarantine commands read whatever was refused
    runner = CliRunner()
    listed = runner.invoke(app, ["--workspace", str(root), "quarantine", "list", "-f", "json"])
    assert listed.exit_code == 0 and listed.exception is None, f"{what}: {listed.output}"


def _check_loaded(
    fixture: Fixture, mutation: str, what: str, data: bytes, suffix: str, after: Holdings
) -> None:
    for metric, amount in after.loaded.items():
        assert amount.is_finite(), f"{what}: {metric} loaded as {amount}"
    for by_metric in after.quarantined_money.values():
        assert all(amount.is_finite() for amount in by_metric.values()), what
    if fixture.fmt == "focus" and mutation == "drop-column" and b"BilledCost" not in data:
        pytest.fail(f"{what}: a FOCUS file without BilledCost was accepted")
    if mutation == "duplicate-column":
        pytest.fail(f"{what}: a money column named twice was accepted (which copy counts?)")
    if fixture.name == "focus-csv" and suffix == ".csv":
        expected = _focus_oracle(data)
        if expected is not None:
            rows, sums = expected
            assert after.kept == rows, f"{what}: {after.kept} rows kept, the file has {rows}"
            counted = _loaded_plus_quarantined(after)
            assert counted == sums, f"{what}: loaded + quarantined {counted} != the file's {sums}"


def _loaded_plus_quarantined(after: Holdings) -> dict[str, Decimal]:
    found = dict(after.loaded)
    for by_metric in after.quarantined_money.values():
        for metric, amount in by_metric.items():
            found[metric] = EXACT.add(found[metric], amount)
    return {m: a.normalize(EXACT) for m, a in found.items()}


_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$")
_LIMIT = Decimal("1e20")


def _focus_oracle(data: bytes) -> tuple[int, dict[str, Decimal]] | None:
    """Python's own reading of a FOCUS CSV: its data rows, and each cost metric summed over
    the cells that are plain numbers a DECIMAL(38, 18) column holds exactly (the others are
    no amount on either side). None when Python cannot read it as one table."""
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error):
        return None
    if not rows or any(len(r) != len(rows[0]) for r in rows[1:]):
        return None
    header = [h.strip().lower() for h in rows[0]]
    sums = {m: Decimal(0) for m in COST_METRICS}
    for metric in COST_METRICS:
        if header.count(metric.lower()) != 1:
            return None
        at = header.index(metric.lower())
        for row in rows[1:]:
            amount = _amount(row[at].strip())
            if amount is not None:
                sums[metric] = EXACT.add(sums[metric], amount)
    return len(rows) - 1, {m: a.normalize(EXACT) for m, a in sums.items()}


def _amount(text: str) -> Decimal | None:
    if not _NUMBER.match(text):
        return None
    try:
        amount = EXACT.create_decimal(text)
    except InvalidOperation:
        return None
    places = -amount.normalize(EXACT).as_tuple().exponent
    if abs(amount) >= _LIMIT or (isinstance(places, int) and places > t.MONEY_SCALE):
        return None
    return amount


def test_the_cases_cover_every_format_the_cli_reads() -> None:
    """A new --format needs its fixture here."""
    from apportion.cli import IngestFormat

    read = {fixture.fmt for fixture in FIXTURE_LIST}
    assert read == {f.value for f in IngestFormat} - {"auto"}
    assert json.dumps(sorted(MUTATIONS))  # every layout has mutations
