"""Allocation benchmark: apportion against the floor of one grouped scan and against peers.

In one run, on the same data, each step in its own process (so peak memory is per step):

- floor:     one grouped scan of the driver rows and one of the cost rows, in DuckDB, over the
             workspace's own tables: no engine can allocate without reading both once
             (with ``--engine spark``: the same scans in Spark over the Parquet store);
- lineage:   the floor plus writing one lineage row per cost line (period, pool, line id) to a
             DuckDB table: what keeping every cent traceable costs at the least (DuckDB only);
- apportion: ``allocate_period`` plus ``statements`` by cost centre and use case;
- pandas, polars: the same allocation (tagged lines direct, shared clusters split by daily
             gpu_seconds per use case) written plainly, reading the generated Parquet files;
- ingest:    ``ingest_files`` of the cost and driver files into a fresh workspace;
- export:    with ``--export``, ``export_focus`` of the allocated month (FOCUS split cost
             allocation, Parquet): rows, seconds, peak memory and file size.

Prints seconds, peak resident memory and ratios to the floor. Sizes via arguments:

    python bench/allocation.py --cost-lines 2000000 --driver-rows 10000000 --memory-limit 3GB
    python bench/allocation.py --engine spark --skip pandas,polars
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import RULES_YAML, generate  # noqa: E402

PERIOD = "2026-10"


# -- steps, each run in a child process -------------------------------------------------------
def step_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from apportion.ingest.load import ingest_files
    from apportion.workspace import Workspace

    workspace = Path(args.workspace)
    if workspace.exists():
        shutil.rmtree(workspace)
    config = RULES_YAML.replace("engine: {type: duckdb, path: apportion.duckdb}", _engine(args))
    ws = Workspace.create(workspace, config)
    started = time.perf_counter()
    results = ingest_files(ws, [Path(args.cost_file), Path(args.driver_file)])
    seconds = time.perf_counter() - started
    ws.close()
    return {"seconds": seconds, "rows": [r.rows for r in results]}


def _engine(args: argparse.Namespace) -> str:
    if args.engine == "spark":
        # local mode on every core, the store in the workspace's `tables` folder
        return "engine: {type: spark, master: 'local[*]'}"
    limit = f", memory_limit: {args.memory_limit}" if args.memory_limit else ""
    return f"engine: {{type: duckdb, path: apportion.duckdb{limit}}}"


def step_export(args: argparse.Namespace) -> dict[str, Any]:
    """``export_focus`` of the allocated month as FOCUS split cost allocation (Parquet): one
    row per bill line and allocation it reached. Runs after ``apportion`` (``--export``)."""
    from apportion.allocate import Period
    from apportion.export import export_focus
    from apportion.workspace import Workspace

    out = Path(args.workspace) / "bench-export.parquet"
    ws = Workspace.open(Path(args.workspace))
    started = time.perf_counter()
    rows = export_focus(ws, Period.parse(PERIOD), out)
    seconds = time.perf_counter() - started
    ws.close()
    written = out.stat().st_size
    out.unlink()
    return {"seconds": seconds, "rows": rows, "file_mb": round(written / 2**20)}


def step_floor(args: argparse.Namespace) -> dict[str, Any]:
    if args.engine == "spark":
        return _spark_floor(args)
    import duckdb

    con = duckdb.connect(str(Path(args.workspace) / "apportion.duckdb"), read_only=True)
    if args.memory_limit:
        con.execute("SET memory_limit = ?", [args.memory_limit])
    started = time.perf_counter()
    groups = _floor_scans(con)
    return {"seconds": time.perf_counter() - started, "groups": groups}


def step_lineage(args: argparse.Namespace) -> dict[str, Any]:
    """The floor plus the least any allocation that keeps lineage must write: one row per cost
    line naming its period, a pool and the line, into a table of a DuckDB file (a scratch file
    beside the workspace: the workspace itself is opened read-only)."""
    import duckdb

    scratch = Path(args.workspace) / "bench-lineage.duckdb"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect()
    if args.memory_limit:
        con.execute("SET memory_limit = ?", [args.memory_limit])
    # ATTACH takes no parameters: the paths go in as quoted SQL literals
    con.execute(f"ATTACH {_literal(scratch)} AS scratch")
    con.execute(f"ATTACH {_literal(Path(args.workspace) / 'apportion.duckdb')} AS ws (READ_ONLY)")
    con.execute("USE ws")
    started = time.perf_counter()
    groups = _floor_scans(con)
    scanned = time.perf_counter() - started
    # the pool reference is the line's ResourceId: text of a pool id's cardinality, without
    # the work of finding the pool, so this is a lower bound of what lineage costs to write
    con.execute(
        "CREATE TABLE scratch.lineage AS SELECT x_BillingPeriod, ResourceId AS pool_id, "
        "x_LineId AS member_id FROM cost_lines WHERE x_BillingPeriod = ?",
        [PERIOD],
    )
    seconds = time.perf_counter() - started
    (rows,) = con.execute("SELECT count(*) FROM scratch.lineage").fetchone()
    con.close()
    scratch.unlink(missing_ok=True)
    return {"seconds": seconds, "groups": groups, "write_seconds": seconds - scanned, "rows": rows}


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _floor_scans(con: Any) -> int:
    """One grouped scan of the driver rows and one of the cost rows; the groups stay in the
    engine (as a real allocation's would) and only their count comes back."""
    (drivers,) = con.execute(
        "SELECT count(*) FROM (SELECT driver, resource_id, date_trunc('day', timestamp), "
        "dimensions['use_case'], dimensions['cost_centre'], sum(quantity) "
        "FROM drivers WHERE x_BillingPeriod = ? GROUP BY ALL)",
        [PERIOD],
    ).fetchone()
    (costs,) = con.execute(
        "SELECT count(*) FROM (SELECT ResourceId, date_trunc('day', ChargePeriodStart), "
        "Tags['use_case'], Tags['cost_centre'], sum(BilledCost), sum(EffectiveCost), "
        "sum(ListCost), sum(ContractedCost) FROM cost_lines WHERE x_BillingPeriod = ? "
        "GROUP BY ALL)",
        [PERIOD],
    ).fetchone()
    return int(drivers) + int(costs)


def _spark_floor(args: argparse.Namespace) -> dict[str, Any]:
    """The same two grouped scans, in Spark over the Parquet store."""
    from apportion.workspace import Workspace

    ws = Workspace.open(Path(args.workspace))
    plane = ws.data
    started = time.perf_counter()
    drivers = plane.table("drivers")
    drivers = drivers.filter(drivers.x_BillingPeriod == PERIOD)
    driver_groups = drivers.group_by(
        drivers.driver,
        drivers.resource_id,
        drivers.timestamp.truncate("D").name("day"),
        drivers.dimensions["use_case"].name("use_case"),
        drivers.dimensions["cost_centre"].name("cost_centre"),
    ).aggregate(quantity=drivers.quantity.sum())
    costs = plane.table("cost_lines")
    costs = costs.filter(costs.x_BillingPeriod == PERIOD)
    cost_groups = costs.group_by(
        costs.ResourceId,
        costs.ChargePeriodStart.truncate("D").name("day"),
        costs.Tags["use_case"].name("use_case"),
        costs.Tags["cost_centre"].name("cost_centre"),
    ).aggregate(**{m: costs[m].sum() for m in ("BilledCost", "EffectiveCost", "ListCost")})
    groups = plane.scalar(driver_groups.count()) + plane.scalar(cost_groups.count())
    seconds = time.perf_counter() - started
    ws.close()
    return {"seconds": seconds, "groups": groups}


def step_apportion(args: argparse.Namespace) -> dict[str, Any]:
    from apportion.allocate import Period
    from apportion.ledger.allocation import allocate_period
    from apportion.report import statements
    from apportion.report import totals as period_totals
    from apportion.workspace import Workspace

    ws = Workspace.open(Path(args.workspace))
    started = time.perf_counter()
    result = allocate_period(ws, PERIOD)
    allocated = time.perf_counter() - started
    lines, totals = statements(ws, Period.parse(PERIOD), ["cost_centre", "use_case"])
    seconds = time.perf_counter() - started
    billed = next(
        m for m in period_totals(ws, Period.parse(PERIOD)).metrics if m.metric == "BilledCost"
    )
    ws.close()
    assert result.published, result.message
    return {
        "seconds": seconds,
        "allocate_seconds": allocated,
        "pools": result.pools,
        "statement_lines": len(lines),
        "total": str(totals[0].amounts["BilledCost"]),
        # the peers drop shared cost with no metering in its window; apportion keeps it,
        # as __unallocated__, so they are compared on what was allocated
        "allocated": str(billed.allocated_total),
    }


def step_pandas(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    started = time.perf_counter()
    costs = pd.read_parquet(args.cost_file)
    drivers = pd.read_parquet(args.driver_file)
    costs["BilledCost"] = costs["BilledCost"].astype("float64")
    drivers["quantity"] = drivers["quantity"].astype("float64")
    costs["use_case"] = costs["Tags"].str.extract(r'"use_case": "([^"]+)"', expand=False)
    direct = costs[costs["use_case"].notna()].groupby("use_case")["BilledCost"].sum()
    shared = costs[costs["ResourceId"].str.startswith("cluster-")].copy()
    shared["day"] = shared["ChargePeriodStart"].dt.floor("D")
    pools = shared.groupby(["ResourceId", "day"])["BilledCost"].sum().rename("pool")
    drivers["day"] = drivers["timestamp"].dt.floor("D")
    usage = drivers.groupby(["resource_id", "day", "use_case"])["quantity"].sum().reset_index()
    usage["share"] = usage["quantity"] / usage.groupby(["resource_id", "day"])[
        "quantity"
    ].transform("sum")
    usage = usage.merge(pools, left_on=["resource_id", "day"], right_index=True)
    usage["cost"] = usage["share"] * usage["pool"]
    result = usage.groupby("use_case")["cost"].sum().add(direct, fill_value=0)
    return {"seconds": time.perf_counter() - started, "total": float(result.sum())}


def step_polars(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    started = time.perf_counter()
    costs = pl.scan_parquet(args.cost_file).with_columns(
        pl.col("BilledCost").cast(pl.Float64),
        pl.col("Tags").str.json_path_match("$.use_case").alias("use_case"),
        pl.col("ChargePeriodStart").dt.truncate("1d").alias("day"),
    )
    direct = (
        costs.filter(pl.col("use_case").is_not_null())
        .group_by("use_case")
        .agg(pl.col("BilledCost").sum().alias("cost"))
    )
    pools = (
        costs.filter(pl.col("ResourceId").str.starts_with("cluster-"))
        .group_by("ResourceId", "day")
        .agg(pl.col("BilledCost").sum().alias("pool"))
    )
    usage = (
        pl.scan_parquet(args.driver_file)
        .with_columns(
            pl.col("quantity").cast(pl.Float64), pl.col("timestamp").dt.truncate("1d").alias("day")
        )
        .group_by("resource_id", "day", "use_case")
        .agg(pl.col("quantity").sum())
        .with_columns(
            (pl.col("quantity") / pl.col("quantity").sum().over("resource_id", "day")).alias(
                "share"
            )
        )
        .join(pools, left_on=["resource_id", "day"], right_on=["ResourceId", "day"])
        .select("use_case", (pl.col("share") * pl.col("pool")).alias("cost"))
    )
    result = pl.concat([direct, usage]).group_by("use_case").agg(pl.col("cost").sum()).collect()
    return {"seconds": time.perf_counter() - started, "total": float(result["cost"].sum())}


STEPS = {
    "ingest": step_ingest,
    "floor": step_floor,
    "lineage": step_lineage,
    "apportion": step_apportion,
    "export": step_export,
    "pandas": step_pandas,
    "polars": step_polars,
}


# -- the parent: run each step in a child and measure it --------------------------------------
def run_step(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", name, *_forwarded(args)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        return {"step": name, "error": f"exit status {status}"}
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["step"] = name
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return result


def _forwarded(args: argparse.Namespace) -> list[str]:
    forwarded = [
        "--workspace",
        str(args.workspace),
        "--cost-file",
        str(args.cost_file),
        "--driver-file",
        str(args.driver_file),
    ]
    if args.memory_limit:
        forwarded += ["--memory-limit", args.memory_limit]
    return [*forwarded, "--engine", args.engine]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-lines", type=int, default=200_000)
    parser.add_argument("--driver-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 3GB")
    parser.add_argument(
        "--engine", choices=["duckdb", "spark"], default="duckdb", help="apportion's engine"
    )
    parser.add_argument("--skip", default="", help="comma-separated steps to skip")
    parser.add_argument(
        "--export",
        action="store_true",
        help="also export the allocated month as FOCUS split cost allocation (long at 10x)",
    )
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--cost-file", help=argparse.SUPPRESS)
    parser.add_argument("--driver-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args)))
        return

    made = generate(args.data, args.cost_lines, args.driver_rows, args.seed)
    args.cost_file, args.driver_file = made.cost_file, made.driver_file
    args.workspace = args.workspace or (
        args.data / f"ws-{args.engine}-{args.cost_lines}-{args.driver_rows}"
    )
    skipped = {s for s in args.skip.split(",") if s}
    print(
        f"{args.cost_lines:,} cost lines, {args.driver_rows:,} driver rows; "
        f"{platform.node()} ({os.cpu_count()} cores), engine {args.engine}, "
        f"memory limit {args.memory_limit or 'none'}"
    )
    results = {}
    if args.engine == "spark":
        skipped.add("lineage")  # a DuckDB reference: Spark's floor has no lineage write beside it
    if not args.export:
        skipped.add("export")
    for name in ("ingest", "floor", "lineage", "apportion", "export", "pandas", "polars"):
        if name in skipped:
            continue
        results[name] = run_step(name, args)
        print(json.dumps(results[name]), flush=True)
    _summary(results)


def _summary(results: dict[str, dict[str, Any]]) -> None:
    floor = results.get("floor", {}).get("seconds")
    print(f"\n{'step':<10} {'seconds':>9} {'peak MB':>9} {'x floor':>8}")
    for name, result in results.items():
        if "error" in result:
            print(f"{name:<10} {result['error']}")
            continue
        ratio = f"{result['seconds'] / floor:8.2f}" if floor else ""
        print(f"{name:<10} {result['seconds']:9.2f} {result['peak_mb']:9.0f} {ratio}")
    apportion = results.get("apportion", {}).get("seconds")
    lineage = results.get("lineage", {}).get("seconds")
    if apportion and lineage:
        print(f"apportion / (floor + lineage write): {apportion / lineage:.2f}")
    for peer in ("pandas", "polars"):
        if apportion and peer in results and "seconds" in results[peer]:
            print(f"{peer} / apportion: {results[peer]['seconds'] / apportion:.2f}")


if __name__ == "__main__":
    main()
