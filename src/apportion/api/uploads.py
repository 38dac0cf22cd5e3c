"""Rows sent to the API, ingested as the file they would have been: written as JSON lines,
kept in raw/ by content hash like any ingested file, validated and quarantined by the same
reader, and recorded in the audit log."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from apportion.control import audit
from apportion.ingest.load import ingest_files
from apportion.workspace import Workspace


def ingest_metrics(
    workspace: Workspace, source: str, rows: Sequence[BaseModel], actor: str
) -> dict[str, Any]:
    lines = "\n".join(
        json.dumps({k: _cell(v) for k, v in row.model_dump().items() if v is not None})
        for row in rows
    )
    with tempfile.TemporaryDirectory(prefix="apportion-upload-") as folder:
        path = Path(folder) / f"{source}.jsonl"
        path.write_text(lines + "\n", encoding="utf-8")
        [result] = ingest_files(workspace, [path], fmt="metrics", source=source)
    with workspace.control.transaction() as session:
        audit.record(
            session,
            actor,
            "metrics.ingest",
            f"source {source}",
            file_hash=result.file_hash,
            rows=result.rows,
            quarantined=result.quarantined,
            periods=result.periods,
        )
    found = asdict(result)
    found.pop("differences", None)  # cost differences: bills only
    return found


def _cell(value: Any) -> Any:
    # exact decimals travel as text: a JSON number would be read back through a float
    return f"{value:f}" if hasattr(value, "is_finite") else value
