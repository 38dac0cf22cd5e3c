"""Legacy AWS CUR files for tests: the public sample's columns, its first row as a template."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.helpers import FIXTURES

CUR = FIXTURES / "native-billing" / "aws-cur-legacy" / "sample-anonymous-aws-export-dataset.csv"
COMMITMENT_COLUMNS = ("reservation/", "savingsPlan/")


def write_cur(path: Path, rows: Sequence[Mapping[str, str]], extra: Sequence[str] = ()) -> Path:
    """A CUR with the sample's columns (and ``extra`` ones): each row is the sample's first
    row with the given cells changed, its reservation and Savings Plan cells blank unless
    the row sets them."""
    with CUR.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [*(reader.fieldnames or []), *extra]
        template = next(reader)
    blank = dict.fromkeys(k for k in header if k.startswith(COMMITMENT_COLUMNS))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({**template, **blank, **row})
    return path
