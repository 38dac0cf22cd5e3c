"""The distributed engine: PySpark through Ibis, its tables in a Parquet store.

Local mode by default; a cluster by master URL; or the SparkSession a notebook already has.
The session is shared and never stopped here: it may be the user's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from apportion.engine import staging
from apportion.engine.dataplane import DataPlane
from apportion.engine.store import ParquetStore, Part
from apportion.engine.stored import StoredTables

# Sensible defaults for one machine; a cluster's own settings win where a user gives them.
DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # the CLI shows its own progress
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.ansi.enabled": "true",
}
# For small data (tests, a first look): one partition, and no code generation, whose compile
# time outweighs the query on a few thousand rows.
SMALL_DATA_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}
SCRATCH = "_scratch"


@ibis.udf.scalar.builtin(name="from_json")
def _from_json(text: str, schema: str) -> dict[str, str]:  # type: ignore[empty-body]
    ...


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """The active session when there is one and no master is named (a notebook, a job on a
    cluster); otherwise one built for the master (``local[*]`` when none is given)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        session = active
    else:
        builder = SparkSession.builder.master(master or "local[*]").appName("apportion")
        for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        # errors reach the caller as exceptions; Spark's log would repeat them (and log the
        # code-generation fallbacks it recovers from on wide queries) in the middle of a report
        session.sparkContext.setLogLevel("FATAL")
    # on any session, the user's included: naive timestamps are UTC, and an overflowing
    # decimal is an error, never a NULL that would drop cost
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.ansi.enabled", "true")
    return session


class SparkPlane(DataPlane):
    engine = "spark"

    def __init__(self, store: ParquetStore, session: Any) -> None:
        self.store: ParquetStore = store
        self.tables = StoredTables(store, self)
        self.session = session
        self.con = ibis.pyspark.connect(session)
        self._views: list[str] = []
        self._frames: list[Any] = []
        self._memtables: set[str] = set()
        # raw files are staged by an embedded DuckDB and handed over as Parquet
        self._stager = duckdb.connect()
        self._stager.execute("SET TimeZone = 'UTC'")
        self._scratch: list[str] = []

    def close(self) -> None:
        for view in self._views:
            self.session.catalog.dropTempView(view)
        for frame in self._frames:
            frame.unpersist()
        self._stager.close()
        for path in self._scratch:
            self.store.fs.delete_file(path)

    # -- Ibis to Spark -----------------------------------------------------------------------
    def _frame(self, expr: ir.Table) -> Any:
        self._register_memtables(expr)
        return self.session.sql(self.con.compile(expr))

    def _register_memtables(self, expr: ir.Expr) -> None:
        """In-memory tables go to Spark as Arrow. (Ibis 12 goes through pandas, which fails
        on a NULL decimal and on map columns.)"""
        for op in expr.op().find(ops.InMemoryTable):
            if op.name in self._memtables:
                continue
            data = op.data.to_pyarrow(op.schema)
            self.session.createDataFrame(data).createOrReplaceTempView(op.name)
            self._memtables.add(op.name)
            self._views.append(op.name)

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.to_arrow(expr.as_table()).column(0)[0].as_py()

    def _register(self, frame: Any) -> ir.Table:
        name = f"apportion_{uuid.uuid4().hex[:16]}"
        frame.createOrReplaceTempView(name)
        self._views.append(name)
        return self.con.table(name)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        table = self._frame(expr).toArrow()
        # Spark hands timestamps back zoned (UTC); the declared types are naive UTC
        return table.cast(expr.schema().to_pyarrow())

    def materialise(self, expr: ir.Table) -> ir.Table:
        # A local checkpoint cuts the lineage, so later plans stay small (a persisted frame
        # keeps its whole plan, and a test session's driver ran out of heap with them). Its
        # blocks live on executors; Spark's dynamic allocation keeps executors that hold
        # cached blocks unless spark.dynamicAllocation.cachedExecutorIdleTimeout is set.
        frame = self._frame(expr).localCheckpoint(eager=True)
        self._frames.append(frame)
        return self._register(frame)

    # -- staging raw files -------------------------------------------------------------------
    def stage_csv(self, path: Path, columns: int, shape: staging.Shape | None = None) -> ir.Table:
        view = staging.stage_csv(self._stager, path, columns)
        if shape is None:
            return self._hand_over(view)
        handed = self._hand_over(staging.shaped(self._stager, view, shape))
        staging.drop(self._stager, view)
        return handed

    def stage_parquet(self, path: Path) -> ir.Table:
        return self._hand_over(staging.stage_parquet(self._stager, path))

    def stage_arrow(self, table: pa.Table) -> ir.Table:
        return self._hand_over(staging.stage_arrow(self._stager, table))

    def stage_json_lines(self, path: Path) -> ir.Table:
        return self._hand_over(staging.stage_json_lines(self._stager, path))

    def _hand_over(self, view: str) -> ir.Table:
        """A staged view as a Parquet file in the store's scratch folder, which every executor
        of a cluster can read."""
        target = f"{self.store.root}/{SCRATCH}/{uuid.uuid4().hex}.parquet"
        self.store.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        reader = self._stager.execute(f"SELECT * FROM {view}").to_arrow_reader()  # noqa: S608 - generated name
        with (
            self.store.fs.open_output_stream(target) as stream,
            pq.ParquetWriter(stream, reader.schema) as writer,
        ):
            for batch in reader:
                writer.write_batch(batch)
        self._scratch.append(target)
        staging.drop(self._stager, view)  # the Parquet copy is what Spark reads
        uri = self.store.uri(target.removeprefix(f"{self.store.root}/"))
        return self._register(self.session.read.parquet(_hadoop(uri)))

    def json_object(self, text: ir.StringValue) -> tuple[ir.BooleanValue, ir.Value]:
        # from_json gives NULL for text that is not a JSON object
        members = _from_json(text, "map<string,string>")
        return members.notnull(), members

    # -- the Parquet store -------------------------------------------------------------------
    def read_parts(self, table: str, parts: list[Part]) -> ir.Table:
        from ibis.backends.pyspark.datatypes import PySparkSchema

        from apportion.engine.tables import SCHEMAS

        schema = PySparkSchema.from_ibis(SCHEMAS[table])
        uris = [_hadoop(self.store.uri(p.path)) for p in parts]
        return self._register(self.session.read.schema(schema).parquet(*uris))

    def write_part(self, table: str, partition: Mapping[str, str | None], rows: ir.Table) -> Part:
        uri, part = self.store.new_part(table, partition, folder=True)
        self._frame(rows).write.parquet(_hadoop(uri))
        return part


def _hadoop(uri: str) -> str:
    """Spark reaches S3 through Hadoop's s3a connector; pyarrow and users write s3://."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri
