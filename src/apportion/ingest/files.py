"""Input files as delivered: gzip-compressed or not, read the same way.

AWS delivers the CUR as `.csv.gz`; a download saved as `.csv` may still be gzip. Compression
is told by the content's magic bytes, and the file is kept in raw/ as delivered (its hash is
the hash of the compressed bytes), under a name that says it is compressed.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import TextIO

from apportion.engine.staging import MAX_LINE_BYTES, FileError, gzipped

__all__ = ["BOM", "MAX_LINE_BYTES", "gzipped", "open_text", "reading_suffix", "stored_suffix"]

BOM = "\ufeff"
_GZ = ".gz"
# a CSV field may be as long as the longest line the engine's CSV reader takes: the Python
# readers (native exports, gateway logs) then refuse no file the FOCUS reader accepts
csv.field_size_limit(MAX_LINE_BYTES)


def reading_suffix(path: Path) -> str:
    """The suffix that says how a file is read: `.csv` for `bill.csv.gz` or for gzip saved as
    `bill.csv`. Only CSV is read compressed."""
    suffix = path.suffix.lower()
    if not gzipped(path):
        return suffix
    inner = Path(path.stem).suffix.lower() if suffix == _GZ else suffix
    if inner not in ("", ".csv"):
        raise FileError(f"{path.name}: a gzip-compressed {inner} file; only CSV is read compressed")
    return ".csv"


def stored_suffix(path: Path) -> str:
    """The suffix of the file's copy in raw/: `.csv.gz` for compressed content."""
    return ".csv.gz" if gzipped(path) else path.suffix.lower()


def open_text(path: Path) -> TextIO:
    """A CSV file's text (a byte-order mark dropped), decompressed where it is gzip."""
    if gzipped(path):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")
