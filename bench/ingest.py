"""Ingest benchmark: apportion against the FinOps Foundation's focus-converter, same rows, CSV.

In one run, on the same N seeded cost lines written twice by DuckDB (see generate.py), each
step in its own process (so peak memory is per step):

- apportion:       ``ingest_files`` of a FOCUS CSV into a fresh workspace (hashing, raw copy,
                   parsing to exact decimals, quarantine, load), as allocation.py's ingest;
- apportion-cur:   the same, of the AWS CUR CSV focus-converter reads (``--format aws-cur``:
                   the export's column map run in DuckDB, then the same parsing and load);
- focus-converter: the same lines as an AWS Cost and Usage Report CSV converted to FOCUS
                   Parquet by focus-converter (PyPI ``focus-converter``, Polars-based) into a
                   temporary folder, through the Python API its ``convert`` command calls.

focus-converter pins Polars 0.20 and pandas 2, so it runs in its own virtualenv: by default
/tmp/fc, made with ``python3 -m venv`` and ``pip install focus-converter`` when missing, or
any interpreter that has it via ``--converter-python``. Prints seconds, rows and peak resident
memory per step and the ratio apportion / focus-converter.

    python bench/ingest.py --rows 10000000 --memory-limit 3GB

Why the provider is ``aws-cur`` and not ``aws``: focus-converter's ``aws`` configs read the
snake_case columns of a CUR exported as Parquet (``line_item_unblended_cost``) and expect
their dates typed already; its CSV loader reads every date as text, so ``--provider aws
--data-format csv`` fails with "expected duration or datetime, got str" (upstream issue
finopsfoundation/focus_converters#355). ``aws-cur`` is its provider for the CUR CSV export
(``lineItem/UnblendedCost`` headers, dates parsed by the plan) and applies the same rules
to the same fields: 35 source columns, 42 here with the usual identity, usage-type and tag
columns. The converter's CLI itself does not start with the current ``multimethod`` release
(its ``focus_validator`` import fails), hence the API.

Only the standard library is imported at the top: the focus-converter step runs this file
with the converter's interpreter, which has neither DuckDB nor apportion.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = Path("/tmp/fc")
PROVIDER = "aws-cur"
# read back from the converted Parquet (not timed): each must be set on every row
CHECKED = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ServiceCategory",
    "ResourceId",
)


# -- data: the same lines as FOCUS (apportion) and as an AWS CUR CSV (focus-converter) -------
def generate_files(out: Path, rows: int, seed: int) -> tuple[Path, Path]:
    import duckdb

    sys.path.insert(0, str(HERE))
    from generate import _cost_sql, _write

    out.mkdir(parents=True, exist_ok=True)
    focus_file = out / f"costs-{rows}-{seed}.csv"  # the name generate.py --csv gives it
    cur_file = out / f"cur-{rows}-{seed}.csv"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    if not focus_file.exists():
        _write(con, _cost_sql(rows, seed), focus_file, csv=True)
    if not cur_file.exists():
        _write(con, _cur_sql(rows, seed), cur_file, csv=True)
    con.close()
    return focus_file, cur_file


def _cur_sql(n: int, seed: int) -> str:
    """Row i is generate.py's cost line i (same hashes): hour, cluster or use case, cost.

    Tagged lines are Amazon Bedrock model invocations (priced per 1,000 tokens) with
    ``resourceTags/user:*`` columns; shared lines are on-demand g5.12xlarge instance hours, one
    instance per cluster. All on demand: no reservation or Savings Plan covers a line, so their
    ARNs and reserved units are empty and their amounts zero, as in such an account's export.
    """
    from generate import CLUSTERS, COST_CENTRES, MICRO, PERIOD_START, USE_CASES

    def h(k: int) -> str:  # as generate._cost_sql
        return f"hash(i * 7919 + {seed * 1000 + k})"

    iso = "'%Y-%m-%dT%H:%M:%SZ'"
    return f"""
    SELECT
      lower(hex({h(5)})) AS "identity/LineItemId",
      strftime(start, {iso}) || '/' || strftime(start + INTERVAL 1 HOUR, {iso})
        AS "identity/TimeInterval",
      'Anniversary' AS "bill/BillType",
      'Amazon Web Services, Inc.' AS "bill/InvoicingEntity",
      '123456789012' AS "bill/PayerAccountId",
      strftime(TIMESTAMP '{PERIOD_START}', {iso}) AS "bill/BillingPeriodStartDate",
      strftime(TIMESTAMP '{PERIOD_START}' + INTERVAL 1 MONTH, {iso})
        AS "bill/BillingPeriodEndDate",
      '2100000000' || lpad(CAST(cc AS VARCHAR), 2, '0') AS "lineItem/UsageAccountId",
      'Usage' AS "lineItem/LineItemType",
      strftime(start, {iso}) AS "lineItem/UsageStartDate",
      strftime(start + INTERVAL 1 HOUR, {iso}) AS "lineItem/UsageEndDate",
      CASE WHEN shared THEN 'AmazonEC2' ELSE 'AmazonBedrock' END AS "lineItem/ProductCode",
      CASE WHEN shared THEN 'USE1-BoxUsage:g5.12xlarge' ELSE 'USE1-InputTokenCount' END
        AS "lineItem/UsageType",
      CASE WHEN shared THEN 'RunInstances' ELSE 'InvokeModelInference' END
        AS "lineItem/Operation",
      CASE WHEN shared THEN 'us-east-1' || chr(97 + CAST(cluster % 4 AS INTEGER)) END
        AS "lineItem/AvailabilityZone",
      CASE WHEN shared THEN printf('i-0%016x', cluster * 1000003 + 4096)
           ELSE 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/uc-' || uc END
        AS "lineItem/ResourceId",
      usage AS "lineItem/UsageAmount",
      'USD' AS "lineItem/CurrencyCode",
      CAST(money / usage AS DECIMAL(38, 10)) AS "lineItem/UnblendedRate",
      money AS "lineItem/UnblendedCost",
      CASE WHEN shared THEN printf('$%.4f per On Demand Linux g5.12xlarge Instance Hour',
                                   money)
           ELSE 'Amazon Bedrock input tokens, per 1K tokens' END
        AS "lineItem/LineItemDescription",
      'Amazon Web Services, Inc.' AS "lineItem/LegalEntity",
      CASE WHEN shared THEN 'Amazon Elastic Compute Cloud' ELSE 'Amazon Bedrock' END
        AS "product/ProductName",
      CASE WHEN shared THEN 'ZB6AKMRCJ7Y3E8PQ' ELSE 'QX2N9V4CB5P8LZMK' END AS "product/sku",
      'us-east-1' AS "product/region",
      'On-Demand' AS "product/PurchaseOption",
      CASE WHEN shared THEN 'ZB6AKMRCJ7Y3E8PQ.JRTCKXETXF.6YS6EN2CT7'
           ELSE 'QX2N9V4CB5P8LZMK.JRTCKXETXF.6YS6EN2CT7' END AS "pricing/RateCode",
      CASE WHEN shared THEN '88217400321' ELSE '90112233557' END AS "pricing/RateId",
      list AS "pricing/publicOnDemandCost",
      CAST(list / usage AS DECIMAL(38, 10)) AS "pricing/publicOnDemandRate",
      CASE WHEN shared THEN 'Hrs' ELSE '1K tokens' END AS "pricing/unit",
      0.0 AS "reservation/EffectiveCost",
      NULL AS "reservation/ReservationARN",
      NULL AS "reservation/TotalReservedUnits",
      0.0 AS "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
      0.0 AS "reservation/UnusedRecurringFee",
      NULL AS "savingsPlan/SavingsPlanARN",
      0.0 AS "savingsPlan/SavingsPlanEffectiveCost",
      0.0 AS "savingsPlan/TotalCommitmentToDate",
      0.0 AS "savingsPlan/UsedCommitment",
      CASE WHEN NOT shared THEN 'uc-' || uc END AS "resourceTags/user:use_case",
      CASE WHEN NOT shared THEN 'cc-' || cc END AS "resourceTags/user:cost_centre"
    FROM (
      SELECT *,
        CAST(CAST(cents AS DECIMAL(38, 0)) * {MICRO} AS DECIMAL(38, 6)) AS money,
        CAST(CAST(cents * 12 // 10 AS DECIMAL(38, 0)) * {MICRO} AS DECIMAL(38, 6)) AS list,
        CASE WHEN shared THEN 1.0 ELSE CAST({h(6)} % 5000 + 1 AS DOUBLE) END AS usage,
        uc % {COST_CENTRES} AS cc
      FROM (
        SELECT i, ({h(0)} % 10) < 4 AS shared, CAST({h(4)} % 5000000 AS BIGINT) AS cents,
          TIMESTAMP '{PERIOD_START}' + to_hours(CAST({h(1)} % 744 AS INTEGER)) AS start,
          {h(2)} % {CLUSTERS} AS cluster, {h(3)} % {USE_CASES} AS uc
        FROM range({n}) AS r(i)
      )
    )
    """


# -- steps, each run in a child process -------------------------------------------------------
def step_apportion(args: argparse.Namespace) -> dict[str, Any]:
    return _apportion(args, Path(args.focus_file), "auto")


def step_apportion_cur(args: argparse.Namespace) -> dict[str, Any]:
    return _apportion(args, Path(args.cur_file), "aws-cur")


def _apportion(args: argparse.Namespace, path: Path, fmt: str) -> dict[str, Any]:
    import duckdb

    from apportion.ingest.load import ingest_files
    from apportion.workspace import Workspace

    sys.path.insert(0, str(HERE))
    from generate import RULES_YAML

    workspace = Path(args.workspace)
    config = RULES_YAML
    if args.memory_limit:
        config = config.replace(
            "engine: {type: duckdb, path: apportion.duckdb}",
            f"engine: {{type: duckdb, path: apportion.duckdb, memory_limit: {args.memory_limit}}}",
        )
    ws = Workspace.create(workspace, config)
    started = time.perf_counter()
    (result,) = ingest_files(ws, [path], fmt=fmt)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    ws.close()
    con = duckdb.connect(str(workspace / "apportion.duckdb"), read_only=True)
    (billed,) = con.execute("SELECT sum(BilledCost) FROM cost_lines").fetchone() or (None,)
    con.close()
    return {
        "seconds": seconds,
        "rows": result.rows,
        "quarantined": result.quarantined,
        "billed": str(billed),
    }


def step_convert(args: argparse.Namespace) -> dict[str, Any]:
    """What ``focus-converter convert --provider aws-cur --data-format csv`` runs, with its
    defaults (source columns kept, Parquet out), then a read-back of the output (not timed)."""
    from importlib.metadata import version

    import polars as pl
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from focus_converter.converter import FocusConverter
    from focus_converter.data_loaders.data_exporter import ExportDataFormats
    from focus_converter.data_loaders.data_loader import DataFormats

    started = time.perf_counter()
    converter = FocusConverter(column_prefix=None, converted_column_prefix=None)
    converter.load_provider_conversion_configs()
    converter.load_data(
        data_path=args.cur_file, data_format=DataFormats.CSV, parquet_data_format=None
    )
    converter.configure_data_export(
        export_path=args.export,
        export_include_source_columns=True,
        basename_template=None,
        export_format=ExportDataFormats.PARQUET,
    )
    converter.prepare_horizontal_conversion_plan(provider=PROVIDER)
    try:
        converter.convert()
    except BaseException:
        # its writer processes are not daemons: left running, they keep this child alive
        converter.data_exporter.close()
        raise
    seconds = time.perf_counter() - started
    table = ds.dataset(args.export).to_table(columns=list(CHECKED))
    return {
        "seconds": seconds,
        "rows": table.num_rows,
        # its CSV reader turns a value it cannot parse into null without a word, so count them
        "nulls": {name: table[name].null_count for name in CHECKED if table[name].null_count},
        "billed": str(pc.sum(table["BilledCost"]).as_py()),
        "output_mb": sum(p.stat().st_size for p in Path(args.export).rglob("*")) / 2**20,
        "versions": f"focus-converter {version('focus-converter')}, polars {pl.__version__}",
    }


STEPS = {
    "apportion": step_apportion,
    "apportion-cur": step_apportion_cur,
    "focus-converter": step_convert,
}


# -- the parent: run each step in a child and measure it --------------------------------------
def run_step(name: str, python: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [python, __file__, "--step", name, *_forwarded(args)]
    # its own process group: when the step dies (focus-converter is killed for memory on
    # large files), its writer processes must go too, or they hold the output pipe open
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    sampler = _TreeMemory(child.pid)
    sampler.start()
    chunks: list[str] = []
    reader = threading.Thread(
        target=lambda: chunks.append(child.stdout.read() if child.stdout else ""), daemon=True
    )
    reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    sampler.stop()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    reader.join(timeout=10)
    output = "".join(chunks)
    if os.WIFSIGNALED(status):
        killed = signal.Signals(os.WTERMSIG(status)).name
        hint = " (out of memory?)" if killed == "SIGKILL" else ""
        return {
            "step": name,
            "error": f"killed by {killed}{hint}",
            "tree_peak_mb": sampler.peak_mb,
        }
    if status != 0:
        return {"step": name, "error": f"exit status {os.waitstatus_to_exitcode(status)}"}
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["step"] = name
    # the largest of the child and its waited-for descendants, as allocation.py measures it
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    # focus-converter hands each converted frame to one writer process per core, so the
    # largest single process understates it: the sampled sum over the process tree (PSS)
    result["tree_peak_mb"] = sampler.peak_mb
    return result


class _TreeMemory(threading.Thread):
    """Samples the proportional set size of a process and its descendants, summed (Linux)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_mb = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_mb = max(self.peak_mb, sum(_pss_kb(p) for p in _tree(self.pid)) / 1024)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            for task in Path(f"/proc/{pids[i]}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass  # gone meanwhile
        i += 1
    return pids


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _forwarded(args: argparse.Namespace) -> list[str]:
    forwarded = [
        "--workspace",
        str(args.workspace),
        "--export",
        str(args.export),
        "--focus-file",
        str(args.focus_file),
        "--cur-file",
        str(args.cur_file),
    ]
    if args.memory_limit:
        forwarded += ["--memory-limit", args.memory_limit]
    return forwarded


def converter_python(given: str | None) -> str:
    """The interpreter that has focus-converter: the one given, or /tmp/fc's, made if missing."""
    python = Path(given) if given else DEFAULT_VENV / "bin" / "python"
    if not given and not python.exists():
        print(f"installing focus-converter into {DEFAULT_VENV} (once)", flush=True)
        subprocess.run(["python3", "-m", "venv", str(DEFAULT_VENV)], check=True)
        pip = [str(DEFAULT_VENV / "bin" / "pip"), "install", "--quiet", "focus-converter"]
        subprocess.run(pip, check=True)
    probe = subprocess.run(
        [str(python), "-c", "import focus_converter.converter"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        sys.exit(f"{python} cannot import focus_converter:\n{probe.stderr.strip()}")
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--memory-limit", help="DuckDB memory limit for apportion, e.g. 3GB")
    parser.add_argument(
        "--converter-python", help=f"a Python with focus-converter (default {DEFAULT_VENV})"
    )
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    for hidden in ("--workspace", "--export", "--focus-file", "--cur-file"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args)))
        return

    python = converter_python(args.converter_python)
    started = time.perf_counter()
    args.focus_file, args.cur_file = generate_files(args.data, args.rows, args.seed)
    print(
        f"{args.rows:,} cost lines: FOCUS CSV {_mb(args.focus_file):,.1f} MB, "
        f"AWS CUR CSV {_mb(args.cur_file):,.1f} MB (ready in "
        f"{time.perf_counter() - started:.1f} s); {platform.node()} ({os.cpu_count()} cores), "
        f"memory limit {args.memory_limit or 'none'}; focus-converter provider {PROVIDER}"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="ingest-", dir=args.data) as scratch:
        args.workspace = Path(scratch) / "workspace"
        args.export = Path(scratch) / "focus-converter-out"
        steps = (
            ("apportion", sys.executable),
            ("apportion-cur", sys.executable),
            ("focus-converter", python),
        )
        for name, interpreter in steps:
            results[name] = run_step(name, interpreter, args)
            print(json.dumps(results[name]), flush=True)
            shutil.rmtree(args.workspace, ignore_errors=True)  # disk: each holds a copy
            shutil.rmtree(args.export, ignore_errors=True)
    _summary(results)


RATIOS = (("seconds", "seconds"), ("peak_mb", "peak MB"), ("tree_peak_mb", "tree MB"))


def _mb(path: Path) -> float:
    return path.stat().st_size / 2**20


def _summary(results: dict[str, dict[str, Any]]) -> None:
    print(f"\n{'step':<16} {'seconds':>9} {'rows':>12} {'peak MB':>9} {'tree MB':>9}")
    for name, result in results.items():
        if "error" in result:
            print(f"{name:<16} {result['error']}")
            continue
        print(
            f"{name:<16} {result['seconds']:9.2f} {result['rows']:12,} "
            f"{result['peak_mb']:9.0f} {result['tree_peak_mb']:9.0f}"
        )
    theirs = results.get("focus-converter", {})
    for name in ("apportion", "apportion-cur"):
        ours = results.get(name, {})
        if "seconds" in ours and "seconds" in theirs:
            ratios = [
                f"{ours[key] / theirs[key]:.2f} {label}" for key, label in RATIOS if theirs[key]
            ]
            print(f"{name} / focus-converter: {', '.join(ratios)}")


if __name__ == "__main__":
    main()
