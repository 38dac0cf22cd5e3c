"""Seeded benchmark data of any size: one month of FOCUS cost lines and driver rows, as Parquet.

The shape follows a large AI estate: most cost lines are tagged workload spend (direct), the
rest sit on shared GPU clusters split by gpu_seconds measured per use case (proportional, daily
windows). Rows come from a hash of their index and the seed, so a size and a seed always give
the same files.

    python bench/generate.py --cost-lines 20000000 --driver-rows 100000000 --out bench/data
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

PERIOD_START = "2026-10-01"
CLUSTERS = 200  # shared GPU clusters
USE_CASES = 250
COST_CENTRES = 12
# exact decimal scaling: DuckDB's decimal division returns DOUBLE, multiplication does not
MICRO = "CAST(0.000001 AS DECIMAL(7, 6))"
MILLI = "CAST(0.001 AS DECIMAL(4, 3))"

RULES_YAML = """version: 1
engine: {type: duckdb, path: apportion.duckdb}
rules:
  - name: tagged-spend
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: gpu-clusters
    match: "ResourceId LIKE 'cluster-%'"
    method: proportional
    driver: gpu_seconds
    window: day
"""


@dataclass(frozen=True)
class Generated:
    cost_file: Path
    driver_file: Path
    cost_lines: int
    driver_rows: int


def generate(
    out: Path, cost_lines: int, driver_rows: int, seed: int = 7, *, csv: bool = False
) -> Generated:
    out.mkdir(parents=True, exist_ok=True)
    suffix = "csv" if csv else "parquet"
    cost_file = out / f"costs-{cost_lines}-{seed}.{suffix}"
    driver_file = out / f"drivers-{driver_rows}-{seed}.parquet"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    if not cost_file.exists():
        _write(con, _cost_sql(cost_lines, seed), cost_file, csv=csv)
    if not driver_file.exists():
        _write(con, _driver_sql(driver_rows, seed), driver_file, csv=False)
    con.close()
    return Generated(cost_file, driver_file, cost_lines, driver_rows)


def _write(con: duckdb.DuckDBPyConnection, sql: str, path: Path, *, csv: bool) -> None:
    partial = path.with_name(path.name + ".partial")
    options = "FORMAT csv, HEADER true" if csv else "FORMAT parquet, COMPRESSION zstd"
    con.execute(f"COPY ({sql}) TO '{partial}' ({options})")
    partial.replace(path)


def _cost_sql(n: int, seed: int) -> str:
    # h(k): a deterministic pseudo-random 64-bit value per row and purpose
    def h(k: int) -> str:
        return f"hash(i * 7919 + {seed * 1000 + k})"

    return f"""
    SELECT
      TIMESTAMP '{PERIOD_START}' AS BillingPeriodStart,
      TIMESTAMP '{PERIOD_START}' + INTERVAL 1 MONTH AS BillingPeriodEnd,
      TIMESTAMP '{PERIOD_START}' + to_hours(CAST({h(1)} % 744 AS INTEGER)) AS ChargePeriodStart,
      TIMESTAMP '{PERIOD_START}' + to_hours(CAST({h(1)} % 744 AS INTEGER) + 1) AS ChargePeriodEnd,
      'USD' AS BillingCurrency,
      'Usage' AS ChargeCategory,
      CASE WHEN shared THEN 'AWS' ELSE 'OpenAI' END AS ProviderName,
      CASE WHEN shared THEN 'Amazon Elastic Compute Cloud' ELSE 'OpenAI API' END AS ServiceName,
      CASE WHEN shared THEN 'Compute' ELSE 'AI and Machine Learning' END AS ServiceCategory,
      CASE WHEN shared THEN 'cluster-' || ({h(2)} % {CLUSTERS})
           ELSE 'proj-' || ({h(3)} % {USE_CASES}) END AS ResourceId,
      money AS BilledCost,
      money AS EffectiveCost,
      CAST(CAST(cents * 12 // 10 AS DECIMAL(38, 0)) * {MICRO} AS DECIMAL(38, 6)) AS ListCost,
      money AS ContractedCost,
      CASE WHEN shared THEN NULL
           ELSE '{{"use_case": "uc-' || ({h(3)} % {USE_CASES}) || '", "cost_centre": "cc-'
                || ({h(3)} % {USE_CASES} % {COST_CENTRES}) || '"}}' END AS Tags
    FROM (
      SELECT *, CAST(CAST(cents AS DECIMAL(38, 0)) * {MICRO} AS DECIMAL(38, 6)) AS money
      FROM (
        SELECT i, ({h(0)} % 10) < 4 AS shared, CAST({h(4)} % 5000000 AS BIGINT) AS cents
        FROM range({n}) AS r(i)
      )
    )
    """


def _driver_sql(n: int, seed: int) -> str:
    def h(k: int) -> str:
        return f"hash(i * 104729 + {seed * 1000 + k})"

    return f"""
    SELECT
      TIMESTAMP '{PERIOD_START}' + to_seconds(CAST({h(1)} % 2678400 AS BIGINT)) AS timestamp,
      'gpu_seconds' AS driver,
      CAST(CAST({h(2)} % 3600000 AS DECIMAL(38, 0)) * {MILLI} AS DECIMAL(38, 12)) AS quantity,
      'cluster-' || ({h(3)} % {CLUSTERS}) AS resource_id,
      'uc-' || (uc) AS use_case,
      'cc-' || (uc % {COST_CENTRES}) AS cost_centre
    FROM (SELECT i, {h(4)} % {USE_CASES} AS uc FROM range({n}) AS r(i))
    """


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-lines", type=int, default=200_000)
    parser.add_argument("--driver-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--csv", action="store_true", help="write the cost lines as CSV")
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    args = parser.parse_args()
    started = time.perf_counter()
    made = generate(args.out, args.cost_lines, args.driver_rows, args.seed, csv=args.csv)
    print(f"{made.cost_file} and {made.driver_file} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
