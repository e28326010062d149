"""Files written whole or not at all: bytes, text, JSON and Parquet moved into place with
``os.replace`` after they are complete, so a crash never leaves a file that looks finished.

Every writer of the results folder (the store, the manifest, the analysis tables, the
``schema -o`` command) goes through these; kept apart so that each of them can without
importing the run-folder machinery.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of the file at ``path``: a run's tables in its manifest, a block's
    parts in its digest file."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_text_file(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of ``path``, a file of a folder someone may have shared: ``OSError``
    when it is missing, a link (the name may be swapped for one at any time: it is opened
    without following it) or not a regular file (a pipe or ``/dev/zero`` would never finish
    reading); ``ValueError`` when it is larger than ``max_bytes`` (checked on the open file,
    before it is read) or not UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise OSError(f"{path.name} is a link, not a regular file") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if st.st_size > max_bytes:
            raise ValueError(f"{st.st_size:,} bytes is too large (at most {max_bytes:,})")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since the check
        raise ValueError(f"more than {max_bytes:,} bytes")
    return data.decode("utf-8")


def json_of(text: str) -> Any:
    """The JSON value of ``text``; ``ValueError`` when it is not JSON or nests deeper than
    Python's decoder can follow (which raises ``RecursionError``)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deep to read") from None


def read_json_file(path: Path, max_bytes: int) -> Any:
    """The JSON value in ``path`` (:func:`read_text_file`, then :func:`json_of`)."""
    return json_of(read_text_file(path, max_bytes))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, and move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk or a read-only folder leaves no stray temporary file
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_default(o: Any) -> Any:
    """JSON for numpy numbers (non-finite as null), dates and paths; ``json.dumps(default=)``."""
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, (_dt.date, _dt.datetime)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def json_clean(o: Any) -> Any:
    """NaN and infinity as null: JSON has no NaN."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_clean(v) for v in o]
    return o


def atomic_write_json(path: Path, data: Any) -> None:
    """Indented JSON (NaN and infinity as null), written atomically."""
    atomic_write_text(path, json.dumps(json_clean(data), indent=2, default=json_default, allow_nan=False) + "\n")


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write an Arrow table as Parquet under a temporary name, then move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)



def to_arrow(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table without its pandas index or metadata."""
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    """A DataFrame as a Parquet file, written atomically (the analysis tables: sweep,
    criticality, attribution)."""
    write_parquet_atomic(path, to_arrow(df))
