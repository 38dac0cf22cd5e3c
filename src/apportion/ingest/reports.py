"""Provider reports (JSON pages from the providers' admin APIs): cost reports read as FOCUS
cost lines, usage reports as token usage.

A report reader turns each result of each time bucket into one row of text. A cost report's
rows are FOCUS columns and go through the same parsing, quarantine and categories as a FOCUS
file (apportion.ingest.focus); a usage report's rows go into the usage table
(apportion.ingest.usage). A file holds one page (the API's response as saved), a JSON array of
pages (what ``apportion pull`` writes), or JSON Lines with one page per line. Numbers are read
as exact decimals, never as floating point: an amount of 0.1 stays 0.1; NaN and Infinity are
refused.

A row's number (the "line" of a quarantined row) is the result's position in the file: 1 is
the first result of the first bucket of the first page.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest import values
from apportion.ingest.files import BOM, open_text
from apportion.ingest.readers import Look, Read, Staging, refuse_repeated
from apportion.ingest.registry import Reader, Yields
from apportion.schema import columns as col
from apportion.schema import tables as t

MAX_BYTES = 256 * 1024 * 1024  # a year of daily pages grouped by project and line item is far less
AI_SERVICE_CATEGORY = "AI and Machine Learning"  # the FOCUS 1.2 ServiceCategory value
# the clouds' AI services, by the names their exports give them (AWS product codes run the
# words together: AmazonBedrock): what a native export's line is marked AI and Machine
# Learning by, so that reconcile compares AI usage with AI cost and not with virtual machines
_AI_SERVICES = re.compile(
    "bedrock|sagemaker|comprehend|rekognition|textract|transcribe|polly|kendra|openai|"
    "cognitive services|foundry models|foundry tools|machine learning|vertex ai|gemini|"
    "generative language|generative ai|document ai|dialogflow|data science|ai services|claude",
    re.IGNORECASE,
)


def ai_category(*names: str | None) -> str | None:
    """AI and Machine Learning where a service name is one of the clouds' AI services; None
    (not known) otherwise: apportion does not guess the other categories."""
    return AI_SERVICE_CATEGORY if any(n and _AI_SERVICES.search(n) for n in names) else None


NO_AMOUNT = "(no amount in the report)"
FOCUS_ALWAYS = (
    col.BILLING_PERIOD_START,
    col.CHARGE_PERIOD_START,
    col.BILLED_COST,
    col.BILLING_CURRENCY,
)
FocusRow = dict[str, str | None]
Page = dict[str, Any]


@dataclass(frozen=True)
class Report:
    """One provider report format: how to recognise its pages and read their results (a
    stager of apportion.ingest.readers)."""

    reader: Reader  # its registry entry: --format name, title, and rows (cost lines or usage)
    recognise: Callable[[Page], bool]  # on a page
    rows: Callable[[Mapping[str, Any], Mapping[str, Any]], FocusRow]  # (bucket, result) -> row

    @property
    def kind(self) -> Yields:
        return self.reader.yields

    def recognises(self, look: Look) -> bool:
        """Whether the file's first JSON object is a page of this report."""
        return look.first is not None and self.recognise(look.first)

    def stage(self, path: Path, at: Staging) -> Read:
        table = report_table(self, read_pages(path), path.name)
        return Read.arrow(
            at, table, notes=[f"read as {self.reader.title} pages ({self.reader.name})"]
        )


def read_pages(path: Path) -> list[Page]:
    """The pages of a report file: one JSON page, a JSON array of pages, or JSON Lines."""
    text = bounded_text(path)
    try:
        document = exact_json(text)
        pages = document if isinstance(document, list) else [document]
    except json.JSONDecodeError:
        pages = _json_lines(path, text)
    except ValueError as exc:
        raise FileError(f"{path.name}: {exc}") from exc
    if not pages or not all(isinstance(page, dict) for page in pages):
        raise FileError(f"{path.name}: expected a report page (a JSON object) or a list of them")
    return pages


def bounded_text(path: Path) -> str:
    """A JSON file's text, refused whole when it is larger than MAX_BYTES or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FileError(f"{path.name}: {size:,} bytes is more than a JSON file here may hold")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def csv_records(
    path: Path, header_ok: Callable[[list[str]], bool] | None = None, what: str = ""
) -> Iterator[tuple[int, dict[str, str]]]:
    """A CSV export's rows with their line in the file. The file is refused whole when its
    header is not ``what`` (as ``header_ok`` tells), when a row has more or fewer fields than
    the header (truncated or malformed), or when it is not UTF-8 CSV."""
    try:
        with open_text(path) as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames:  # a second byte-order mark would hide the first column
                reader.fieldnames = [reader.fieldnames[0].lstrip(BOM), *reader.fieldnames[1:]]
            header = [name.strip() for name in reader.fieldnames or []]
            refuse_repeated(header, path.name)  # the last copy would silently win
            if header_ok is not None and not header_ok(header):
                raise FileError(f"{path.name}: not an {what} (its columns are not)")
            for row in reader:
                if None in row or None in row.values():
                    raise FileError(
                        f"{path.name}: line {reader.line_num} has a different number of fields "
                        "than the header; the file looks truncated or malformed"
                    )
                yield _first_line(reader.line_num, row), row
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise FileError(f"{path.name}: not a readable CSV file ({exc})") from exc
    except (OSError, EOFError) as exc:  # a gzip file cut short or not gzip after all
        raise FileError(f"{path.name}: not a readable gzip file ({exc})") from exc


def _first_line(last: int, row: Mapping[str, str]) -> int:
    """The line a record starts on: the reader counts the lines it has read, and a quoted
    value's line breaks (CRLF, CR or LF, each one line) make a record end lines later."""
    breaks = sum(
        value.replace("\r\n", "\n").replace("\r", "\n").count("\n")
        for value in row.values()
        if isinstance(value, str)
    )
    return last - breaks


def _json_lines(path: Path, text: str) -> list[Page]:
    pages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pages.append(exact_json(line))
        except json.JSONDecodeError as exc:
            raise FileError(f"{path.name}: line {number} is not valid JSON ({exc.msg})") from exc
        except ValueError as exc:
            raise FileError(f"{path.name}: line {number}: {exc}") from exc
    return pages


def json_documents(
    path: Path, is_document: Callable[[Any], bool], what: str
) -> list[tuple[int, dict[str, Any]]]:
    """A saved JSON answer or export with its line numbers: one document, or one per line
    (JSON lines). A line that is not JSON, or not ``what``, refuses the file."""
    text = bounded_text(path)
    try:
        whole = exact_json(text)
    except (json.JSONDecodeError, ValueError):
        whole = None
    if is_document(whole):
        return [(1, whole)]
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = exact_json(line)
        except (json.JSONDecodeError, ValueError) as exc:
            raise FileError(f"{path.name}: line {number} is not valid JSON ({exc})") from exc
        if not is_document(document):
            raise FileError(f"{path.name}: line {number} is not {what}")
        found.append((number, document))
    return found


def exact_json(text: str) -> Any:
    """JSON with every number an exact decimal; NaN and Infinity (not JSON) refused. A number
    no decimal can hold (``1e99999999999999999999``) is kept as its text, so the row that has
    it is quarantined with it rather than the file ending in a traceback."""
    return json.loads(
        text, parse_float=_exact_number, parse_int=_exact_number, parse_constant=_not_a_number
    )


def _exact_number(written: str) -> Decimal | str:
    try:
        return Decimal(written)
    except InvalidOperation:
        return written


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def report_table(report: Report, pages: list[Page], file_name: str) -> pa.Table:
    """Every result as a row of text, numbered in file order."""
    rows: list[FocusRow] = []
    for index, page in enumerate(pages, start=1):
        # a page without results (a quiet day, a month with no embeddings) says nothing of
        # its kind; one with results must be of the kind asked for
        if not report.recognise(page) and not _empty(page):
            raise FileError(f"{file_name}: page {index} is not an {report.reader.title} page")
        for bucket in _list(page.get("data"), file_name, f"page {index}: data"):
            results = _list(bucket.get("results"), file_name, f"page {index}: results")
            rows.extend(report.rows(bucket, result) for result in results)
    # a report without results still has its kind's columns: it loads nothing, and says so
    always = FOCUS_ALWAYS if report.kind == "focus" else ()
    columns = list(dict.fromkeys([*always, *(name for row in rows for name in row)]))
    return text_table(rows, list(range(1, len(rows) + 1)), columns)


def text_table(
    rows: list[FocusRow], numbers: list[int], columns: list[str] | None = None
) -> pa.Table:
    """Rows a reader built, as a table of text columns with each row's number in its file:
    the shape every staged file has. The columns are every key of the rows, in the order
    first seen, unless given."""
    if columns is None:
        columns = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table(
        {
            t.ROW_NUMBER: pa.array(numbers, pa.int64()),
            **{name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns},
        }
    )


def _empty(page: Page) -> bool:
    data = page.get("data")
    return isinstance(data, list) and not any(
        isinstance(bucket, dict) and bucket.get("results") for bucket in data
    )


def _list(value: Any, file_name: str, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise FileError(f"{file_name}: {where} is not a list of objects")
    return value


# -- helpers for the readers --------------------------------------------------------------------
def text(value: Any) -> str | None:
    """A JSON value as FOCUS text: numbers as written (exact), nothing as NULL."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return values.written(value)
    if isinstance(value, dict | list | bool):
        return json.dumps(value, default=str)  # nested values keep their JSON
    return str(value)


def instant(value: Any) -> str | None:
    """A Unix time (seconds) or an RFC 3339 text as RFC 3339 UTC text."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        try:
            return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            pass  # out of any calendar: kept as written, so the row is quarantined
    return text(value)


def total(*parts: Any) -> str | None:
    """Token counts added up (absent ones count nothing); a part that is not a number is
    returned as written, so the row is quarantined with it."""
    found = [part for part in parts if part is not None]
    counts: list[Decimal] = []
    for part in found:
        try:
            count = values.number(part, count=True) if isinstance(part, Decimal) else None
        except values.NotANumber:
            count = None
        if count is None:
            return text(part)
        counts.append(count)
    return text(sum(counts, Decimal(0))) if counts else None


def nested(result: Mapping[str, Any], key: str, inner: str) -> Any:
    """``result[key][inner]`` where ``result[key]`` is an object, else None."""
    outer = result.get(key)
    return outer.get(inner) if isinstance(outer, dict) else None


def flag(value: Any) -> str | None:
    """A JSON boolean as text; anything else as written (the row is quarantined for it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value)


def billing_month(start: str | None) -> tuple[str | None, str | None]:
    """The calendar month (UTC) a charge falls in, as BillingPeriodStart and -End: the
    providers invoice monthly."""
    if not start or len(start) < 7 or not start[:4].isdigit() or not start[5:7].isdigit():
        return None, None  # the row is quarantined for its ChargePeriodStart
    year, month = int(start[:4]), int(start[5:7])
    after = (year + month // 12, month % 12 + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z", f"{after[0]:04d}-{after[1]:02d}-01T00:00:00Z"


def charge(
    provider: str,
    start: str | None,
    end: str | None,
    amount: str | None,
    currency: str | None,
) -> FocusRow:
    """The columns every provider report row shares: the provider, the charge's period and
    month, and its cost (billed = effective = list = contracted: the report shows no
    discount). The reports give an amount per line without a quantity or unit price, so a
    line has no PricingQuantity, PricingUnit or unit prices."""
    period_start, period_end = billing_month(start)
    # a result without an amount is quarantined, not read as no cost
    amount = amount if amount is not None else NO_AMOUNT
    return {
        col.PROVIDER_NAME: provider,
        col.PUBLISHER_NAME: provider,
        col.INVOICE_ISSUER_NAME: provider,
        col.SERVICE_CATEGORY: AI_SERVICE_CATEGORY,
        col.SERVICE_SUBCATEGORY: "Generative AI",  # the providers' model APIs
        col.CHARGE_CATEGORY: "Usage",
        col.CHARGE_FREQUENCY: "Usage-Based",
        col.BILLING_PERIOD_START: period_start,
        col.BILLING_PERIOD_END: period_end,
        col.CHARGE_PERIOD_START: start,
        col.CHARGE_PERIOD_END: end,
        col.BILLED_COST: amount,
        col.EFFECTIVE_COST: amount,
        col.LIST_COST: amount,
        col.CONTRACTED_COST: amount,
        col.BILLING_CURRENCY: currency,
    }
