"""Driver (metering) Parquet files for the synthetic organisation.

Everything is generated column-wise with numpy: quantities are integers (tokens, queries,
milliseconds) turned into exact ``decimal128(38, 12)`` values through their unscaled 128-bit
representation, never through floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from apportion.synth.demo_config import OBSERVABILITY, TOOLING
from apportion.synth.organisation import (
    BEDROCK_KEY,
    FEATURE_READS_GAP_DAY,
    FEATURE_STORE,
    GPU_CLUSTER,
    PIPELINES,
    VECTOR_STORE,
    Organisation,
    Period,
    UseCase,
)

QUANTITY_SCALE = 12
QUANTITY_TYPE = pa.decimal128(38, QUANTITY_SCALE)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
DRIVER_SCHEMA = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP_TYPE, nullable=False),
        pa.field("driver", pa.string(), nullable=False),
        pa.field("quantity", QUANTITY_TYPE, nullable=False),
        pa.field("resource_id", pa.string()),
        pa.field("use_case", pa.string()),
        pa.field("cost_centre", pa.string()),
        pa.field("environment", pa.string()),
        pa.field("lifecycle_stage", pa.string()),
    ]
)
DIMENSIONS = ("use_case", "cost_centre", "environment", "lifecycle_stage")

SLOTS_PER_DAY = 8  # gateway and service metrics arrive as 3-hourly aggregates
_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_US_PER_SLOT = _US_PER_DAY // SLOTS_PER_DAY
_PIPELINE_RUNS = (1, 9, 17)  # hours at which the scheduled jobs start
OBSERVABILITY_SEATS = 3  # ML platform seats the observability team holds


def decimal_column(unscaled: np.ndarray, scale: int) -> pa.Array:
    """Exact ``decimal128(38, 12)`` values from int64 counts of 10**-scale."""
    values = np.ascontiguousarray(unscaled, dtype=np.int64)
    words = np.empty((len(values), 2), dtype=np.int64)  # little-endian 128-bit two's complement
    words[:, 0] = values
    words[:, 1] = values >> 63
    raw = pa.Array.from_buffers(
        pa.decimal128(38, scale), len(values), [None, pa.py_buffer(words.tobytes())]
    )
    return raw.cast(QUANTITY_TYPE)


class _Entities:
    """Dimension values of the driver rows' owners, taken by index."""

    def __init__(self, rows: Sequence[dict[str, str | None]]) -> None:
        self.columns = {d: pa.array([r[d] for r in rows], pa.string()) for d in DIMENSIONS}

    def take(self, index: np.ndarray) -> dict[str, pa.Array]:
        indices = pa.array(index.astype(np.int32))
        return {d: pc.take(column, indices) for d, column in self.columns.items()}


def _use_case_entities(use_cases: Sequence[UseCase]) -> _Entities:
    return _Entities([dict(u.dims) for u in use_cases])


def _table(
    timestamps: np.ndarray,
    driver: str,
    quantity: np.ndarray,
    q_scale: int,
    resource: str | None,
    dims: dict[str, pa.Array],
) -> pa.Table:
    n = len(timestamps)
    resource_ids = (
        pa.nulls(n, pa.string())
        if resource is None
        else pa.repeat(pa.scalar(resource, pa.string()), n)
    )
    return pa.Table.from_arrays(
        [
            pa.array(timestamps.astype(np.int64), TIMESTAMP_TYPE),
            pa.repeat(pa.scalar(driver, pa.string()), n),
            decimal_column(quantity, q_scale),
            resource_ids,
            *(dims[d] for d in DIMENSIONS),
        ],
        schema=DRIVER_SCHEMA,
    )


def _grid(*sizes: int) -> list[NDArray[np.int64]]:
    """Every combination of ``range(size)`` values, one flat index array per axis."""
    axes = np.meshgrid(*(np.arange(n, dtype=np.int64) for n in sizes), indexing="ij")
    return [axis.ravel() for axis in axes]


def _start_us(period: Period) -> int:
    return int(period.start.timestamp()) * _US_PER_SECOND


def _weekend(period: Period, days: np.ndarray) -> np.ndarray:
    return (days + period.start.weekday()) % 7 >= 5


def _slot_driver(
    rng: np.random.Generator,
    period: Period,
    use_cases: Sequence[UseCase],
    per_slot: np.ndarray,
    driver: str,
    resource: str,
    *,
    skip_day: int | None = None,
) -> pa.Table:
    """One row per use case per 3-hour slot, with a daily rhythm and noise."""
    days = np.arange(period.days)
    if skip_day is not None:
        days = days[days != skip_day - 1]
    slots = (days[:, None] * SLOTS_PER_DAY + np.arange(SLOTS_PER_DAY)[None, :]).ravel()
    uc, slot_index = _grid(len(use_cases), len(slots))
    slot = slots[slot_index]
    hour = (slot % SLOTS_PER_DAY) * (24 // SLOTS_PER_DAY) + 1.5
    rhythm = 0.55 - 0.45 * np.cos((hour - 3.0) / 24.0 * 2.0 * np.pi)
    rhythm = rhythm * np.where(_weekend(period, slot // SLOTS_PER_DAY), 0.7, 1.0)
    noise = rng.lognormal(0.0, 0.2, len(uc))
    quantity = np.maximum(np.rint(per_slot[uc] * rhythm * noise), 1).astype(np.int64)
    timestamps = _start_us(period) + slot.astype(np.int64) * _US_PER_SLOT
    return _table(timestamps, driver, quantity, 0, resource, _use_case_entities(use_cases).take(uc))


def _pipeline_jobs(rng: np.random.Generator, period: Period, org: Organisation) -> pa.Table:
    owners = [(u, r) for u in org.use_cases for r in u.pipelines]
    use_cases = [u for u, _ in owners]
    runs = len(_PIPELINE_RUNS)
    pair, day, run = _grid(len(owners), period.days, runs)
    start_hour = np.array(_PIPELINE_RUNS)[run]
    timestamps = (
        _start_us(period)
        + day.astype(np.int64) * _US_PER_DAY
        + start_hour.astype(np.int64) * 3_600 * _US_PER_SECOND
        + rng.integers(0, 600 * _US_PER_SECOND, len(pair))
    )
    millis = np.rint(rng.lognormal(np.log(1_500.0), 0.5, len(pair)) * 1_000).astype(np.int64)
    tables = []
    entities = _use_case_entities(use_cases)
    for resource in PIPELINES:
        keep = np.array([owners[p][1] == resource for p in pair])
        tables.append(
            _table(
                timestamps[keep],
                "pipeline_job_seconds",
                millis[keep],
                3,
                resource,
                entities.take(pair[keep]),
            )
        )
    return pa.concat_tables(tables)


def _requests(rng: np.random.Generator, period: Period, org: Organisation) -> pa.Table:
    """Requests a day per use case, and those the observability stack served the ML
    platform's own tooling (about 6% of the rest: the platform services use each other)."""
    use_cases = org.use_cases
    uc, day = _grid(len(use_cases), period.days)
    base = np.array([u.requests for u in use_cases], dtype=np.float64)
    factor = np.where(_weekend(period, day), 0.75, 1.0) * rng.lognormal(0.0, 0.15, len(uc))
    quantity = np.maximum(np.rint(base[uc] * factor), 1).astype(np.int64)
    timestamps = _start_us(period) + day.astype(np.int64) * _US_PER_DAY
    tooling = np.rint(base.sum() * 0.06 * rng.lognormal(0.0, 0.1, period.days)).astype(np.int64)
    days = np.arange(period.days, dtype=np.int64)
    platform = _Entities([_platform_service(TOOLING)])
    return pa.concat_tables(
        [
            _table(
                timestamps, "requests", quantity, 0, None, _use_case_entities(use_cases).take(uc)
            ),
            _table(
                _start_us(period) + days * _US_PER_DAY,
                "requests",
                tooling,
                0,
                None,
                platform.take(np.zeros(period.days, dtype=np.int64)),
            ),
        ]
    )


def _platform_service(name: str) -> dict[str, str | None]:
    return {
        "use_case": name,
        "cost_centre": "ml-platform",
        "environment": None,
        "lifecycle_stage": None,
    }


def _seats(period: Period, org: Organisation) -> pa.Table:
    """ML platform seats per cost centre, and the observability team's own."""
    centres = org.cost_centres
    entities = _Entities(
        [
            *(
                {
                    "use_case": None,
                    "cost_centre": c.name,
                    "environment": None,
                    "lifecycle_stage": None,
                }
                for c in centres
            ),
            _platform_service(OBSERVABILITY),
        ]
    )
    n = len(centres) + 1
    timestamps = np.full(n, _start_us(period), dtype=np.int64)
    quantity = np.array([*(c.seats for c in centres), OBSERVABILITY_SEATS], dtype=np.int64)
    return _table(timestamps, "seats", quantity, 0, None, entities.take(np.arange(n)))


def _gpu_capacity(
    rng: np.random.Generator, period: Period, org: Organisation, gpu: pa.Table
) -> pa.Table:
    """What each GPU use case reserved each day (Kubernetes requests: some teams hold more
    than they use, some less) and the cluster's capacity, so that it runs 72-90% reserved or
    busy and the rest stands idle. Milliseconds, as the usage samples."""
    use_cases = [u for u in org.use_cases if u.gpu]
    names = [u.name for u in use_cases]
    day = (gpu.column("timestamp").cast(pa.int64()).to_numpy() - _start_us(period)) // _US_PER_DAY
    which = pc.index_in(gpu.column("use_case"), value_set=pa.array(names)).to_numpy(
        zero_copy_only=False
    )
    millis = pc.cast(gpu.column("quantity"), pa.float64()).to_numpy() * 1_000
    used = np.zeros((len(names), period.days))
    np.add.at(used, (which.astype(np.int64), day), millis)
    habit = rng.uniform(0.5, 1.6, len(names))  # each team's usual reservation against its use
    scaled = used * habit[:, None] * rng.lognormal(0.0, 0.1, used.shape)
    reserved = np.maximum(np.rint(scaled), 1).astype(np.int64)
    charged = np.maximum(reserved, np.rint(used).astype(np.int64)).sum(axis=0)
    capacity = np.rint(charged / rng.uniform(0.72, 0.9, period.days)).astype(np.int64)
    uc, d = _grid(len(names), period.days)
    days = np.arange(period.days, dtype=np.int64)
    return pa.concat_tables(
        [
            _table(
                _start_us(period) + d * _US_PER_DAY,
                "gpu_reserved_seconds",
                reserved[uc, d],
                3,
                GPU_CLUSTER,
                _use_case_entities(use_cases).take(uc),
            ),
            _table(
                _start_us(period) + days * _US_PER_DAY,
                "gpu_capacity_seconds",
                capacity,
                3,
                GPU_CLUSTER,
                _Entities([dict.fromkeys(DIMENSIONS)]).take(np.zeros(period.days, dtype=np.int64)),
            ),
        ]
    )


def _capacity_rows(org: Organisation, period: Period) -> int:
    """Reservations per GPU use case and day, and the capacity per day."""
    return (sum(1 for u in org.use_cases if u.gpu) + 1) * period.days


def _platform(rng: np.random.Generator, period: Period, org: Organisation) -> pa.Table:
    bedrock = [u for u in org.use_cases if u.bedrock]
    vector = [u for u in org.use_cases if u.vector]
    features = [u for u in org.use_cases if u.features]
    # gateway-measured tokens: input plus roughly a quarter again of output
    tokens = np.array([u.bedrock_mtok * 1_250_000 / SLOTS_PER_DAY for u in bedrock])
    queries = np.array([u.vector * 3_000.0 for u in vector])
    reads = np.array([u.features * 40_000.0 for u in features])
    tables = [
        _slot_driver(rng, period, bedrock, tokens, "tokens", BEDROCK_KEY),
        _slot_driver(rng, period, vector, queries, "vector_queries", VECTOR_STORE),
        _slot_driver(
            rng,
            period,
            features,
            reads,
            "feature_reads",
            FEATURE_STORE,
            skip_day=FEATURE_READS_GAP_DAY,
        ),
        _pipeline_jobs(rng, period, org),
        _requests(rng, period, org),
        _seats(period, org),
    ]
    return pa.concat_tables(tables)


def _gpu_seconds(
    rng: np.random.Generator, period: Period, org: Organisation, rows: int
) -> pa.Table:
    """Per-request GPU time samples on the shared cluster: every GPU use case on every day,
    then the rest drawn by weight across the month, in time order."""
    use_cases = [u for u in org.use_cases if u.gpu]
    weights = np.array([u.gpu for u in use_cases], dtype=np.float64)
    cover_uc, cover_day = _grid(len(use_cases), period.days)
    extra = rows - cover_uc.size
    uc = np.concatenate([cover_uc, rng.choice(len(use_cases), extra, p=weights / weights.sum())])
    offset = np.concatenate(
        [
            cover_day.astype(np.int64) * _US_PER_DAY + rng.integers(0, _US_PER_DAY, cover_uc.size),
            rng.integers(0, period.days * _US_PER_DAY, extra),
        ]
    )
    # GPU milliseconds per sampled pod interval: heavier models take longer
    median_ms = np.array([6_000.0 * (1 + u.gpu / 4) for u in use_cases])
    millis = np.rint(median_ms[uc] * rng.lognormal(0.0, 0.9, rows)).clip(1, 3_600_000)
    order = np.argsort(offset, kind="stable")
    entities = _use_case_entities(use_cases).take(uc[order])
    return _table(
        _start_us(period) + offset[order],
        "gpu_seconds",
        millis.astype(np.int64)[order],
        3,
        GPU_CLUSTER,
        entities,
    )


def minimum_driver_rows(org: Organisation, period: Period) -> int:
    """The fewest rows a month can have: the fixed platform metering plus one GPU sample per
    GPU use case per day."""
    with_gpu = sum(1 for u in org.use_cases if u.gpu)
    platform = int(_platform(np.random.default_rng(0), period, org).num_rows)
    return platform + _capacity_rows(org, period) + with_gpu * period.days


def write_drivers(
    out_dir: Path, org: Organisation, period: Period, rng: np.random.Generator, rows: int
) -> tuple[tuple[Path, ...], int]:
    """Write exactly ``rows`` driver rows for ``period``; the bulk is ``gpu_seconds``."""
    platform = _platform(rng, period, org)
    with_gpu = sum(1 for u in org.use_cases if u.gpu)
    gpu_rows = rows - platform.num_rows - _capacity_rows(org, period)
    if gpu_rows < with_gpu * period.days:
        raise ValueError(
            f"driver_rows={rows} is too few: need at least {minimum_driver_rows(org, period)}"
        )
    gpu = _gpu_seconds(rng, period, org, gpu_rows)
    platform = pa.concat_tables([platform, _gpu_capacity(rng, period, org, gpu)])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (
        out_dir / f"drivers-gpu-{period.label}.parquet",
        out_dir / f"drivers-platform-{period.label}.parquet",
    )
    for path, table in zip(paths, (gpu, platform), strict=True):
        pq.write_table(table, path, compression="zstd")
    return paths, gpu.num_rows + platform.num_rows
