"""What the richer rules cost: a reciprocal rule group of 50 shared services, and idle capacity
with reservations on 200 GPU clusters, against the plain allocation of the same month.

On the data of bench/generate.py (200 GPU clusters split daily by gpu_seconds, 250 use cases),
one workspace is ingested once, with two more driver files: each cluster's capacity per day
(its busy seconds over a drawn 70-90% utilisation) and reservations for a tenth of the
(cluster, day, use case) triples (a third more than they used). Then, each in its own process:

- plain:      the benchmark's rules (tagged spend direct, clusters proportional);
- idle:       the cluster rule with ``reservations`` and ``idle: {capacity, charge: keep}``;
- reciprocal: the plain rules plus 50 service rules (``use_case = 'uc-k'``, k < 50), each
              sending fixed shares to 5 other services and 10 use cases outside, in one
              reciprocal group: a fifth of the month's cost enters it;
- solve:      the group's solve alone (apportion.allocate.groups.solve), 50 services.

Prints seconds and peak memory per step and the ratios to the plain allocation.

    python bench/rule_language.py --cost-lines 2000000 --driver-rows 10000000 --memory-limit 3GB
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import CLUSTERS, RULES_YAML, USE_CASES, generate  # noqa: E402

PERIOD = "2026-10"
SERVICES = 50


def _config(kind: str, memory_limit: str | None) -> str:
    config = RULES_YAML
    if memory_limit:
        config = config.replace(
            "path: apportion.duckdb}", f"path: apportion.duckdb, memory_limit: {memory_limit}}}"
        )
    if kind == "idle":
        config += (
            "    reservations: gpu_reserved_seconds\n"
            "    idle: {capacity: gpu_capacity_seconds, charge: keep, "
            "owner: {cost_centre: platform}}\n"
        )
    if kind == "reciprocal":
        config += _services()
    return config


def _services() -> str:
    """50 service rules with fixed shares: 5 to other services, 10 to use cases outside."""
    rng = random.Random(50)
    rules = []
    for k in range(SERVICES):
        others = rng.sample([s for s in range(SERVICES) if s != k], 5)
        outside = rng.sample(range(SERVICES, USE_CASES), 10)
        weights = [rng.randint(1, 9) for _ in others] + [rng.randint(5, 20) for _ in outside]
        total = sum(weights)
        # percentages that sum to exactly 100: the last one takes the remainder
        shares = [round(100 * w / total, 2) for w in weights]
        shares[-1] = round(100 - sum(shares[:-1]), 2)
        named = ", ".join(f"uc-{u}: {s}" for u, s in zip([*others, *outside], shares, strict=True))
        rules.append(
            f"  - {{name: svc-{k}, match: \"use_case = 'uc-{k}'\", method: fixed, "
            f"shares: {{use_case: {{{named}}}}}}}\n"
        )
    names = ", ".join(f"svc-{k}" for k in range(SERVICES))
    group = f"rule_groups:\n  - {{name: services, rules: [{names}], method: reciprocal}}\n"
    return "".join(rules) + group


def _capacity_files(data: Path, driver_file: Path) -> list[Path]:
    """Capacity per cluster and day, and reservations for a tenth of the triples."""
    import duckdb

    capacity = data / f"capacity-{driver_file.stem}.parquet"
    reserved = data / f"reserved-{driver_file.stem}.parquet"
    if capacity.exists() and reserved.exists():
        return [capacity, reserved]
    con = duckdb.connect()
    used = f"""
        SELECT resource_id, date_trunc('day', timestamp) AS day, use_case, cost_centre,
               sum(quantity) AS used
        FROM read_parquet('{driver_file}') GROUP BY ALL
    """
    con.execute(
        f"""COPY (
            SELECT day AS timestamp, 'gpu_capacity_seconds' AS driver,
                   CAST(sum(used) * CAST(1.25 AS DECIMAL(3, 2))
                        + CAST(hash(resource_id, day) % 100000 AS DECIMAL(38, 0))
                        AS DECIMAL(38, 12)) AS quantity,
                   resource_id, NULL::VARCHAR AS use_case, NULL::VARCHAR AS cost_centre
            FROM ({used}) GROUP BY resource_id, day
        ) TO '{capacity}' (FORMAT parquet)"""
    )
    con.execute(
        f"""COPY (
            SELECT day AS timestamp, 'gpu_reserved_seconds' AS driver,
                   CAST(used * CAST(1.33 AS DECIMAL(3, 2)) AS DECIMAL(38, 12)) AS quantity,
                   resource_id, use_case, cost_centre
            FROM ({used}) WHERE hash(resource_id, day, use_case) % 10 = 0
        ) TO '{reserved}' (FORMAT parquet)"""
    )
    con.close()
    return [capacity, reserved]


# -- steps, each in a child process ----------------------------------------------------------
def step_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from apportion.ingest.load import ingest_files
    from apportion.workspace import Workspace

    root = Path(args.workspace)
    if root.exists():
        shutil.rmtree(root)
    ws = Workspace.create(root, _config("plain", args.memory_limit))
    files = [Path(args.cost_file), Path(args.driver_file), *map(Path, args.extra)]
    started = time.perf_counter()
    results = ingest_files(ws, files)
    seconds = time.perf_counter() - started
    ws.close()
    return {"seconds": seconds, "rows": [r.rows for r in results]}


def step_allocate(args: argparse.Namespace) -> dict[str, Any]:
    from apportion.allocate import Period
    from apportion.ledger.allocation import allocate_period
    from apportion.report import statements
    from apportion.workspace import Workspace

    root = Path(args.workspace)
    (root / "apportion.yaml").write_text(_config(args.kind, args.memory_limit))
    ws = Workspace.open(root)
    started = time.perf_counter()
    result = allocate_period(ws, PERIOD)
    allocated = time.perf_counter() - started
    lines, totals = statements(ws, Period.parse(PERIOD), ["cost_centre", "use_case"])
    seconds = time.perf_counter() - started
    ws.close()
    assert result.published, result.message
    idle = sum(
        (line.amounts["BilledCost"] for line in lines if line.keys.get("use_case") == "__idle__"),
        start=0,
    )
    return {
        "seconds": seconds,
        "allocate_seconds": allocated,
        "pools": result.pools,
        "generations": result.generations,
        "statement_lines": len(lines),
        "total": str(totals[0].amounts["BilledCost"]),
        "idle": str(idle),
    }


def step_solve(args: argparse.Namespace) -> dict[str, Any]:
    """The group's solve alone, as a run does it: 50 services, fixed shares as weights."""
    from apportion.allocate.groups import Target, solve
    from apportion.config import RuleGroup, parse_config

    config = parse_config(_config("reciprocal", None))
    group = config.rule_groups[0]
    services = {f"uc-{k}": f"svc-{k}" for k in range(SERVICES)}
    splits = {}
    for rule in config.rules:
        if rule.name not in group.rules:
            continue
        splits[rule.name] = [
            Target(
                (None, target["use_case"]),
                int(weight * 10**12),
                services.get(target["use_case"]),
            )
            for target, weight in rule.target_weights()  # type: ignore[union-attr]
        ]
    started = time.perf_counter()
    solution = solve(RuleGroup(name="g", rules=group.rules, method="reciprocal"), splits)
    seconds = time.perf_counter() - started
    digits = max(len(str(w)) for weights in solution.leaving.values() for _, w in weights)
    return {"seconds": seconds, "services": len(solution.leaving), "largest_weight_digits": digits}


STEPS = {"ingest": step_ingest, "allocate": step_allocate, "solve": step_solve}


def _child(args: argparse.Namespace, step: str, **extra: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--step", step, "--workspace", str(args.workspace)]
    command += ["--cost-file", str(args.cost_file), "--driver-file", str(args.driver_file)]
    for path in args.extra:
        command += ["--extra", str(path)]
    if args.memory_limit:
        command += ["--memory-limit", args.memory_limit]
    for key, value in extra.items():
        command += [f"--{key}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"step {step} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-lines", type=int, default=200_000)
    parser.add_argument("--driver-rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 3GB")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="plain", help=argparse.SUPPRESS)
    parser.add_argument("--cost-file", help=argparse.SUPPRESS)
    parser.add_argument("--driver-file", help=argparse.SUPPRESS)
    parser.add_argument("--extra", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        found = STEPS[args.step](args)
        found["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps(found))
        return
    made = generate(args.data, args.cost_lines, args.driver_rows)
    args.cost_file, args.driver_file = made.cost_file, made.driver_file
    args.extra = _capacity_files(args.data, made.driver_file)
    args.workspace = args.workspace or args.data / f"ws-rules-{args.cost_lines}"
    print(f"{args.cost_lines:,} cost lines, {args.driver_rows:,} driver rows, {CLUSTERS} clusters")
    ingested = _child(args, "ingest")
    print(f"ingest: {ingested['seconds']:.1f} s, rows {ingested['rows']}")
    runs = {kind: _child(args, "allocate", kind=kind) for kind in ("plain", "idle", "reciprocal")}
    plain = runs["plain"]["seconds"]
    for kind, found in runs.items():
        print(
            f"{kind:>10}: {found['seconds']:6.1f} s ({found['seconds'] / plain:.2f}x plain), "
            f"allocate {found['allocate_seconds']:.1f} s, {found['pools']:,} pools, "
            f"{found['generations']} generations, peak {found['peak_mb']:,} MB, "
            f"total {found['total']}, idle {found['idle']}"
        )
    solved = _child(args, "solve")
    print(
        f"     solve: {solved['seconds']:.3f} s for {solved['services']} services "
        f"(weights of up to {solved['largest_weight_digits']} digits)"
    )


if __name__ == "__main__":
    main()
