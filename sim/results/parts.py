"""The tables of a run while it streams: blocks of replications as part files, and their
assembly into the final Parquet tables.

A block of consecutive replications is one file ``parts/r<start>-<stop>.block`` holding an
Arrow IPC file per table (:data:`TABLES`) and their SHA-256 digests (:func:`write_block`
says how it is laid out), written under a temporary name and renamed into place only when
complete.  :class:`Assembler` appends blocks to the final tables in
replication order while the run goes on; :func:`assemble` joins whatever it could not.
Both conform every block to the union schema of all of them (:func:`_schema_of`), so the
final tables are the same however the replications were split into blocks.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError
from sim.results.files import to_arrow

TABLES = ("kpis", "facility_kpis", "disruption_kpis", "timeseries", "voyages", "waits", "passages", "balance",
          "cargoes", "rail_trips", "decisions", "nominations")
PARTS = "parts"
SUMMARY_TABLES = ("kpis", "facility_kpis", "disruption_kpis")  # what summary.json is made from
PART_EXT = ".arrow"  # a block's parts are Arrow IPC files: written and read back several times faster than Parquet
BLOCK_EXT = ".block"  # a block's file: its parts one after another, behind an index with their SHA-256
# what a block file starts with: this magic, then the index's length (8 bytes, little endian)
BLOCK_MAGIC = b"RSBLOCK1"
_ALIGN = 64  # each part starts at a multiple of this in the file, so a memory map reads it zero-copy
MAX_INDEX_BYTES = 64 * 1024  # a block's index is about 1 KB; a larger one is not an index
# (7 digits, 8 for the 10,000,000th replication: _block_name pads to 7)
_BLOCK_NAME = re.compile(r"r([0-9]{7,8})-([0-9]{7,8})" + re.escape(BLOCK_EXT))
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ARROW_MAGIC = b"ARROW1"  # an Arrow IPC file starts and ends with it


@dataclass(frozen=True)
class Block:
    """Replications ``start`` to ``stop - 1``, stored in ``parts/r<start>-<stop>.block``."""

    start: int
    stop: int
    path: Path

    @property
    def replications(self) -> range:
        return range(self.start, self.stop)


def _block_name(start: int, stop: int) -> str:
    return f"r{start:07d}-{stop:07d}"


def finished_blocks(folder: Path) -> list[Block]:
    """The blocks on disk, in replication order: regular files named as :func:`_block_name`
    and :data:`BLOCK_EXT` name them (ASCII digits only: ``int()`` would also read other
    scripts' digits), each covering at least one replication.  Temporary files are ignored,
    and so are the block folders of versions before the single block file: a run such a
    version left unfinished resumes by computing those replications again."""
    parts = folder / PARTS
    out = []
    if parts.is_dir():
        for d in parts.iterdir():
            m = _BLOCK_NAME.fullmatch(d.name)
            if m is None or not _regular(d):
                continue
            a, b = int(m[1]), int(m[2])
            if a < b:
                out.append(Block(a, b, d))
    return sorted(out, key=lambda b: (b.start, b.stop))


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file itself, not a link (a shared folder's block may be
    a link to a device, which never ends, or to a file outside the folder) nor a pipe."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def remove_temporaries(folder: Path) -> None:
    """Drop half-written blocks and temporary files a killed run left behind."""
    parts = folder / PARTS
    if parts.is_dir():
        for d in parts.iterdir():
            if d.name.startswith(".tmp"):
                if d.is_dir():
                    shutil.rmtree(d, ignore_errors=True)
                else:
                    d.unlink(missing_ok=True)
    for f in folder.glob(".*.tmp-*"):
        f.unlink(missing_ok=True)


def as_arrow(part: Any) -> pa.Table:
    """A DataFrame or a dict of numpy columns as an Arrow table."""
    if isinstance(part, pa.Table):
        return part
    if isinstance(part, pd.DataFrame):
        return to_arrow(part)
    return pa.table({k: pa.array(v, from_pandas=True) for k, v in part.items()})


def join_columns(parts: list[dict[str, np.ndarray]]) -> pa.Table:
    """Consecutive replications' columns of one table (each a dict of numpy columns) as one
    Arrow table: the same table as converting each part with :func:`as_arrow` and joining
    them as :func:`write_block` does, built with one conversion per column instead of one
    per column and replication when every part has the same columns and dtypes (the common
    case); otherwise part by part."""
    parts = [p for p in parts if p]
    if not parts:
        return pa.table({})
    names = list(parts[0])
    if all(list(p) == names for p in parts) and not any(len(p[names[0]]) for p in parts):
        # no rows in the block (a scenario without rail or policies: rail_trips, decisions):
        # the table the part-by-part path makes (an empty part's columns are untyped, and
        # untyped columns unify to float64), without converting 32 empty parts one by one,
        # which took ~1 ms per replication for these two tables
        return pa.table({k: pa.array([], pa.float64()) for k in names})
    same = all(list(p) == names and all(p[k].dtype == parts[0][k].dtype for k in names) for p in parts[1:])
    if same and sum(len(p[names[0]]) for p in parts) > 0:
        cols = {}
        for k in names:
            col = pa.array(np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k],
                           from_pandas=True)
            if parts[0][k].dtype == object and not (pa.types.is_string(col.type) or pa.types.is_null(col.type)):
                break  # mixed Python objects: leave type inference and unification to each part
            cols[k] = col
        else:
            return pa.table(cols)
    pieces = [as_arrow(p) for p in parts]
    pieces = [p for p in pieces if p.num_columns]
    schema = _schema_of([(t.schema, t.num_rows) for t in pieces])
    return pa.concat_tables([_conform(t, schema) for t in pieces])


_FLOAT_TYPES = (float, np.float64)
# the numpy dtype np.array infers from Python scalars of one kind (a KPI row's values)
_KIND_OF_TYPE: dict[type, str] = {float: "f", np.float64: "f", int: "i", np.int64: "i", bool: "b", np.bool_: "b"}
_DTYPE_OF_KINDS = {frozenset("f"): np.dtype("float64"), frozenset("i"): np.dtype("int64"),
                   frozenset("b"): np.dtype("bool"), frozenset("fi"): np.dtype("float64")}


def with_replication(cols: dict[str, np.ndarray], replication: int) -> dict[str, np.ndarray]:
    """One replication's table as columns with a leading ``replication`` column (as long as
    the table's other columns; empty when it has none)."""
    n = len(next(iter(cols.values()))) if cols else 0
    return {"replication": np.full(n, replication, dtype="int64"), **cols}


def rows_to_columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """One replication's rows (dicts, a KPI per key) as numpy columns: the keys of the
    first row, in its order; a column of text when its first value is text (object
    dtype), else the dtype numpy infers from its values."""
    if not rows:
        return {}
    return {k: np.array([r[k] for r in rows], dtype=object if isinstance(rows[0][k], str) else None)
            for k in rows[0]}


def join_rows(replications: list[tuple[int, list[dict[str, Any]]]]) -> pa.Table:
    """One KPI table of a block, from each replication's rows (``(replication, rows)`` in
    replication order): the table :func:`join_columns` makes of each replication's
    :func:`rows_to_columns` with a leading ``replication`` column, built column by column
    for the whole block.

    What it buys: the per-replication way makes a numpy array per column and replication
    (126 columns of one row for the kpis, 48 of a row per facility) and concatenates them;
    here each column's values are gathered once for the block and converted once.  It is
    the same table when every replication's column would have had the same dtype: the
    values are of one kind (floats, ints or booleans, which numpy infers as float64, int64,
    bool; ints and floats mixed are float64 when every replication has a float among them),
    or all text, and every replication's rows have the first one's keys in its order.
    Anything else (a replication with no rows, other keys, ``None``, a replication whose
    column would have been int64 beside another's float64) goes the per-replication way."""
    counts = [len(rows) for _, rows in replications]
    if not replications or not all(counts):
        return _join_rows_one_by_one(replications)
    keys = list(replications[0][1][0])
    if any(list(rows[0]) != keys for _, rows in replications[1:]):
        return _join_rows_one_by_one(replications)
    every = [row for _, rows in replications for row in rows]
    bounds = np.cumsum([0, *counts]).tolist()
    spans = list(itertools.pairwise(bounds))
    reps = np.array([r for r, _ in replications], dtype="int64")
    cols: dict[str, pa.Array] = {"replication": pa.array(np.repeat(reps, counts))}
    for k in keys:
        try:
            values = [row[k] for row in every]
        except KeyError:
            return _join_rows_one_by_one(replications)
        types = set(map(type, values))
        if types == {str}:
            cols[k] = pa.array(values, pa.string())
            continue
        kinds = frozenset(_KIND_OF_TYPE.get(t, "?") for t in types)
        dtype = _DTYPE_OF_KINDS.get(kinds)
        if dtype is None or (kinds == {"f", "i"} and not all(
                any(type(v) in _FLOAT_TYPES for v in values[a:b]) for a, b in spans)):
            return _join_rows_one_by_one(replications)
        arr = np.array(values)
        if arr.dtype != dtype:  # an int beyond int64 (object): as numpy made it per replication
            return _join_rows_one_by_one(replications)
        cols[k] = pa.array(arr, from_pandas=True)
    return pa.table(cols)


def _join_rows_one_by_one(replications: list[tuple[int, list[dict[str, Any]]]]) -> pa.Table:
    return join_columns([with_replication(rows_to_columns(rows), replication) for replication, rows in replications])


def block_table(parts: Iterable[Any]) -> pa.Table:
    """One table of a block from its parts in replication order (DataFrames, Arrow tables
    or dicts of numpy columns; columns unified); a table with no parts is an empty
    ``replication`` column."""
    pieces = [as_arrow(f) for f in parts if f is not None]
    pieces = [p for p in pieces if p.num_columns]
    if not pieces:
        return pa.table({"replication": pa.array([], pa.int64())})
    if len(pieces) == 1:
        return pieces[0]
    schema = _schema_of([(t.schema, t.num_rows) for t in pieces])
    return pa.concat_tables([_conform(t, schema) for t in pieces])


def encode_part(table: pa.Table) -> pa.Buffer:
    """A block's table as the bytes of its part file (Arrow IPC, LZ4-compressed when larger
    than :data:`COMPRESS_ABOVE_BYTES`): a worker encodes its block once, and the parent
    writes the bytes as they are."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=_ipc_options(table)) as writer:
        writer.write_table(table)
    return sink.getvalue()


def write_block(folder: Path, start: int, stop: int, tables: dict[str, Any]) -> Block:
    """Write one block of consecutive replications atomically (a file renamed into place).

    ``tables`` maps each table name to its parts in replication order (see
    :func:`block_table`), or to the part file's bytes from :func:`encode_part`.

    The block file is :data:`BLOCK_MAGIC`, the length of the index (8 bytes, little
    endian), the index (JSON: each table's offset, length and SHA-256 of its part), then
    each table's part file (:func:`encode_part`'s bytes) at the offsets it gives, each
    starting at a multiple of :data:`_ALIGN` bytes.  One file, not a folder of one file per
    table: creating a file costs ~0.9 ms of kernel CPU on this machine (rewriting one, 0.07;
    renaming it, 0.02), so a block's folder, 12 parts and digest file cost the parent
    ~12 ms of CPU per block, more than the worker spends on a replication, in a run whose
    parent shares the cores with the workers.

    A block is complete or absent for every process that reads the folder: its file is
    written under a temporary name and renamed into place.  It is not fsynced: a folder
    fsync per block cost the parent ~11 ms of waiting per block on this machine under load
    (225 fsyncs, 2.4 s, in a 200-replication pool run with the manifest's), and it never
    made the files' own data durable anyway.  What an OS crash or power cut can leave (a
    renamed block file cut short or zero-filled, caught by its index's digests)
    :func:`drop_broken_blocks` removes before a run resumes, and the replications are run
    again; the final tables are fsynced once, when the run closes.
    """
    parts = folder / PARTS
    parts.mkdir(exist_ok=True)
    name = _block_name(start, stop) + BLOCK_EXT
    data: list[Any] = []
    for table in TABLES:
        entry = tables.get(table, [])
        data.append(entry if isinstance(entry, (bytes, pa.Buffer)) else encode_part(block_table(entry)))
    index, offset = {}, 0
    for table, part in zip(TABLES, data, strict=True):
        index[table] = [offset, len(part), hashlib.sha256(part).hexdigest()]
        offset += -(-len(part) // _ALIGN) * _ALIGN
    head = json.dumps(index).encode("utf-8")
    body_at = -(-(len(BLOCK_MAGIC) + 8 + len(head)) // _ALIGN) * _ALIGN
    head = head.ljust(body_at - len(BLOCK_MAGIC) - 8)  # JSON ignores the trailing spaces
    tmp = parts / f".tmp-{name}-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(BLOCK_MAGIC + len(head).to_bytes(8, "little") + head)
        for part in data:
            fh.write(part)
            fh.write(bytes(-len(part) % _ALIGN))
    final = parts / name
    os.rename(tmp, final)
    return Block(start, stop, final)


def _index(data: pa.Buffer) -> dict[str, tuple[int, int, str]]:
    """The index of a block file's bytes: each table's (offset from the first part,
    length, SHA-256); ValueError when the file does not start with one."""
    if data.size < len(BLOCK_MAGIC) + 8 or data[:len(BLOCK_MAGIC)].to_pybytes() != BLOCK_MAGIC:
        raise ValueError("not a block file")
    n = int.from_bytes(data[len(BLOCK_MAGIC):len(BLOCK_MAGIC) + 8].to_pybytes(), "little")
    start = len(BLOCK_MAGIC) + 8
    if n > MAX_INDEX_BYTES:
        raise ValueError("the block's index is too large to be one")
    if start + n > data.size:
        raise ValueError("the block's index is cut short")
    try:
        raw = json.loads(data[start:start + n].to_pybytes().decode("utf-8"))
    except RecursionError:  # a tampered index nested deeper than the decoder follows
        raise ValueError("the block's index is nested too deep to be one") from None
    if not isinstance(raw, dict) or set(raw) != set(TABLES):
        raise ValueError("the block's index does not name every table")
    index = {}
    for table, entry in raw.items():
        # [offset, length, SHA-256]: two plain non-negative ints and 64 hex digits, nothing
        # else (a tampered index's Infinity, 1e400, true or a list would reach int() below)
        if (not isinstance(entry, list) or len(entry) != 3
                or not all(type(x) is int and x >= 0 for x in entry[:2])
                or not isinstance(entry[2], str) or not _HEX64.fullmatch(entry[2])):
            raise ValueError(f"the block's index entry for {table} is not [offset, length, sha256]")
        offset, length, digest = entry
        a = start + n + offset
        if a + length > data.size:
            raise ValueError(f"the block's {table} part is cut short")
        if length < len(_ARROW_MAGIC) * 2 or data[a:a + len(_ARROW_MAGIC)].to_pybytes() != _ARROW_MAGIC \
                or data[a + length - len(_ARROW_MAGIC):a + length].to_pybytes() != _ARROW_MAGIC:
            raise ValueError(f"the block's {table} part is not an Arrow file")
        index[table] = (a, length, digest)
    return index


MAX_BLOCK_BYTES = 4 * 1024 ** 3  # a block file larger than this is refused unread (a sparse one costs nothing to share)


def _block_bytes(block: Block) -> pa.Buffer:
    """The bytes of a block file, memory-mapped, after checking that its name is a regular
    file itself (not a link: it may have been swapped for one since the blocks were listed)
    of at most :data:`MAX_BLOCK_BYTES`.  Mapped, not read: every part's schema and rows are
    read through here, a table at a time, and reading the whole file each time made the
    pool's speed-up 1.78 -> 1.38 (make bench, quiet machine).  Left as a known risk: another
    process that cuts a block short while it is mapped kills the reader with SIGBUS."""
    st = block.path.lstat()
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{block.path.name} is not a regular file")
    if st.st_size > MAX_BLOCK_BYTES:
        raise ValueError(f"{block.path.name}: {st.st_size:,} bytes is more than a block may hold")
    with pa.memory_map(str(block.path), "r") as source:
        return source.read_buffer()


def block_parts(block: Block, tables: Iterable[str] = TABLES) -> dict[str, pa.Table]:
    """The tables of a block file (each part as :func:`encode_part` wrote it), read from
    one memory map, zero-copy where the part is not compressed.  A part its index
    vouches for that still does not decode (a shared folder's block rewritten with its
    digest recomputed) is a :class:`~sim.errors.UserError` naming the block."""
    data = _block_bytes(block)
    index = _index(data)
    out = {}
    for t in tables:
        try:
            out[t] = decode_part(data.slice(index[t][0], index[t][1]))
        except pa.ArrowException as e:
            raise UserError(f"{block.path}: its {t} part is not a valid Arrow file ({e}); the run folder was "
                            "altered after it was written: remove that block file, and a resume "
                            "(routesim run --resume) computes its replications again") from None
    return out


def block_part_bytes(block: Block, table: str) -> pa.Buffer:
    """The bytes of one table's part in a block file (what :func:`encode_part` made)."""
    data = _block_bytes(block)
    offset, length, _ = _index(data)[table]
    return data.slice(offset, length)


def block_index(block: Block) -> dict[str, tuple[int, int, str]]:
    """Each table's (offset in the file, length, recorded SHA-256) in a block file."""
    return _index(_block_bytes(block))


def _whole(block: Block) -> bool:
    """Whether every part of ``block`` still has the SHA-256 its index recorded when it was
    written.  A footer that reads is not enough: a crash can leave a file of the right
    length whose data pages were never written back (zeros), and an uncompressed part then
    reads as valid Arrow with wrong numbers."""
    try:
        data = _block_bytes(block)
        return all(hashlib.sha256(data.slice(a, n)).hexdigest() == digest for a, n, digest in _index(data).values())
    except (OSError, ValueError, pa.ArrowException):  # _index checks every entry's types; bad UTF-8 is a ValueError
        return False


def drop_broken_blocks(folder: Path, replications: int | None = None) -> list[Block]:
    """Remove the blocks with a damaged file or index (what an OS crash can leave of a
    block that was renamed into place before its data reached the disk, since blocks are
    not fsynced: :func:`write_block`), and those overlapping an earlier whole block (a
    copied or renamed block file), so a resumed run computes those replications again and
    none twice; with ``replications``, those naming a replication past the run's count too.
    Returns the blocks removed."""
    kept = {b for b in whole_blocks(folder) if replications is None or b.stop <= replications}
    broken = [b for b in finished_blocks(folder) if b not in kept]
    for b in broken:
        b.path.unlink(missing_ok=True)
    return broken


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to the disk (before it is renamed into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unify(types: list[pa.DataType]) -> pa.DataType:
    # a dictionary-encoded column (the time series' names, sim.results.tables.timeseries_block)
    # is its values in the final tables: the same strings, the same type as a plain column
    types = [t.value_type if pa.types.is_dictionary(t) else t for t in types]
    real = [t for t in types if not pa.types.is_null(t)]
    if not real:
        return pa.float64()
    if all(t == real[0] for t in real):
        return real[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) for t in real):
        return pa.float64()
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in real):
        return pa.large_string() if any(pa.types.is_large_string(t) for t in real) else pa.string()
    return real[0]


def _schema_of(schemas: list[tuple[pa.Schema, int]]) -> pa.Schema:
    """One schema for parts with these (schema, rows): columns in first-seen order, types
    unified; an empty part's column types do not count (an empty column has no type)."""
    names: list[str] = []
    types: dict[str, list[pa.DataType]] = {}
    for schema, rows in schemas:
        for fld in schema:
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = []
            types[fld.name].append(fld.type if rows else pa.null())
    return pa.schema([pa.field(n, _unify(types[n])) for n in names])


# A part is LZ4-compressed only when it is large.  The time series repeats its names, days
# and replication number on every row: LZ4 makes its part 35x smaller (2 baseline
# replications: 1,404,530 -> 40,250 bytes), less to pickle, pipe and write than the raw
# bytes.  The other tables are small and wide, and LZ4 compresses each column's buffers
# apart: it made the kpis part of 2 replications (126 columns) larger (24,186 -> 27,482
# bytes) and ~10x slower to decode than the raw part, which is read zero-copy; per block of
# 2 the parent spent ~3.6 ms decoding the 12 parts, most of it on the small ones.
COMPRESS_ABOVE_BYTES = 256 * 1024
# Parts are written and read on the calling thread, not Arrow's pool.  What it buys: LZ4
# (de)compressing a time-series part's buffers on the pool cost more CPU than on one thread
# (the handing over, on a machine whose cores the other worker and the parent already use):
# a 32-replication baseline block's part, encode 0.23 -> 0.14 and decode 0.15 -> 0.09 ms per
# replication (CPU time, median of 9, load 3.6).  The bytes are the same either way.
_LZ4 = pa.ipc.IpcWriteOptions(compression="lz4", use_threads=False)
_RAW = pa.ipc.IpcWriteOptions(use_threads=False)
_READ = pa.ipc.IpcReadOptions(use_threads=False)


def _ipc_options(table: pa.Table) -> pa.ipc.IpcWriteOptions:
    return _LZ4 if table.get_total_buffer_size() > COMPRESS_ABOVE_BYTES else _RAW


def decode_part(data: bytes | pa.Buffer) -> pa.Table:
    """A part's bytes (:func:`encode_part`) as its table (zero-copy where not compressed)."""
    return pa.ipc.open_file(pa.BufferReader(data), options=_READ).read_all()


def _part_schema(block: Block, table: str) -> tuple[pa.Schema, int]:
    reader = pa.ipc.open_file(pa.BufferReader(block_part_bytes(block, table)), options=_READ)
    rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    return reader.schema, rows


def _union_schema(blocks: list[Block], table: str) -> pa.Schema:
    return _schema_of([_part_schema(b, table) for b in blocks])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Add missing columns (0 for dependency shares, null otherwise) and cast to ``schema``."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    cols = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            cols.append(col.cast(fld.type) if col.type != fld.type else col)
        elif fld.name.startswith("share_") and pa.types.is_floating(fld.type):
            # a route or origin that delivered nothing in these replications has a 0 % share
            cols.append(pa.array(np.zeros(table.num_rows), fld.type))
        else:
            cols.append(pa.nulls(table.num_rows, fld.type))
    return pa.Table.from_arrays(cols, schema=schema)


# Row groups of the final Parquet tables.  One row group per block per table (what a
# ParquetWriter makes of one write_table call per block) made the parent's memory grow
# with the blocks: an open writer keeps every row group's metadata until it closes (the kpis
# footer of 6,400 baseline replications in 400 blocks was 3,989 KB; gathered, 59 KB).  So
# blocks are gathered into row groups of up to ROW_GROUP_BYTES of Arrow data (or
# ROW_GROUP_ROWS rows, Parquet's usual maximum).  The bound is small on purpose: with 16 MB
# the parent streamed 45 MB higher and still grew (many small gathered tables living long
# among the short-lived time-series blocks fragment the allocator); with 1 MB, appending
# 400 blocks of 16 baseline replications held RSS within 202-211 MB (before: 202-252 MB).
# A time-series block is larger than the bound by itself and is written as its own group.
ROW_GROUP_BYTES = 2**20
ROW_GROUP_ROWS = 2**20
# ... and of at most ROW_GROUP_TABLES gathered tables: a small table (the kpis of a block of
# two replications) costs far more memory than its nbytes (its own buffers, and the memory
# map of the part file it was read from), so with small blocks the byte bound was never
# reached and the parent grew ~110 KB per block (measured: 224 -> 331 MB over 1,000 blocks
# of 2 baseline replications; flat with this bound)
ROW_GROUP_TABLES = 64


class RowGroups:
    """A Parquet file written from consecutive tables of one schema, in row groups of up
    to :data:`ROW_GROUP_BYTES` / :data:`ROW_GROUP_ROWS` / :data:`ROW_GROUP_TABLES` tables:
    tables are gathered in memory and written as one row group when the next would pass a
    bound (or the count is reached), and at :meth:`close`.
    The rows written, and their order, are those of the tables given, whatever the bounds."""

    def __init__(self, path: Path, schema: pa.Schema, *, max_bytes: int = ROW_GROUP_BYTES,
                 max_rows: int = ROW_GROUP_ROWS, max_tables: int = ROW_GROUP_TABLES, **options: Any):
        self.writer = pq.ParquetWriter(path, schema, **options)
        self.max_bytes, self.max_rows, self.max_tables = max_bytes, max_rows, max_tables
        self.pending: list[pa.Table] = []
        self.rows = self.nbytes = 0

    def write_table(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        # the size of the table's buffers: Table.nbytes works out the bytes each column's
        # offsets reach, ~2.5 ms for a 126-column kpis table under load, 20x this
        size = table.get_total_buffer_size()
        if self.pending and (self.rows + table.num_rows > self.max_rows
                             or self.nbytes + size > self.max_bytes):
            self.flush()
        self.pending.append(table)
        self.rows += table.num_rows
        self.nbytes += size
        if self.rows >= self.max_rows or self.nbytes >= self.max_bytes or len(self.pending) >= self.max_tables:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered as row groups of at most ``max_rows`` rows (one, unless
        a single table was longer)."""
        if self.pending:
            joined = pa.concat_tables(self.pending) if len(self.pending) > 1 else self.pending[0]
            self.pending, self.rows, self.nbytes = [], 0, 0
            self.writer.write_table(joined, row_group_size=self.max_rows)

    def close(self, *, flush: bool = True) -> None:
        """Write what is gathered (unless ``flush`` is false: a file to be discarded) and
        the footer."""
        if flush:
            self.flush()
        self.pending, self.rows, self.nbytes = [], 0, 0
        self.writer.close()


def _dictionary_schema(schema: pa.Schema, part: pa.Schema) -> pa.Schema:
    """``schema`` with the dictionary type ``part`` gives a column where ``schema`` has its
    value type (a string column the parts carry dictionary-encoded)."""
    fields = []
    for fld in schema:
        t = part.field(fld.name).type if fld.name in part.names else None
        keep = t is not None and pa.types.is_dictionary(t) and t.value_type == fld.type
        fields.append(pa.field(fld.name, t) if keep else fld)
    return pa.schema(fields)


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """The columns of ``schema`` whose Parquet statistics (min/max per row group) are
    written: all but its dictionary columns.

    What it buys: the dictionary columns are the time series' ``facility`` and ``kind``,
    and every row group of it (a block, or more) holds every facility and kind, so their
    min and max never let a reader skip a row group (a filter such as criticality's
    ``kind == delivered`` still reads the same rows, filtered row by row); working them out
    was a quarter of the time series' Parquet encoding (2.03 -> 1.56 ms per baseline
    replication, 32-replication blocks, median of 9 interleaved).  The columns a reader
    can prune on (``replication``, ``day``, ``date``) keep their statistics."""
    return [f.name for f in schema if not pa.types.is_dictionary(f.type)]


class Assembler:
    """Writes the final tables while a run streams, so little is left to do at the end.

    Each block is appended to every table's Parquet file (a temporary file until the run is
    complete) as soon as all blocks before it are on disk, in replication order, exactly as
    :func:`assemble` would write it: conformed to the union schema of the blocks.  That
    schema is only known at the end, so a table keeps being written only while no block
    changes it (a new column, a wider type); a table whose schema changed is left to
    :func:`assemble`, which joins it from the blocks as usual.  Memory: one block, and per
    table one row group being gathered (:class:`RowGroups`, at most :data:`ROW_GROUP_BYTES`).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.next = 0                    # replications before this are appended
        self.waiting: dict[int, Block] = {}
        self.names: dict[str, list[str]] = {t: [] for t in TABLES}
        self.types: dict[str, dict[str, list[pa.DataType]]] = {t: {} for t in TABLES}
        self.writers: dict[str, tuple[RowGroups, pa.Schema, Path, pa.Schema]] = {}
        self.dropped: set[str] = set()
        # per table, the part schemas (with whether the part had rows) already counted in the
        # union, and the union they made: parts of one table nearly always share a schema, and
        # this skips the loop over every column of every part (~1 ms per block of the parent's
        # CPU for the 12 tables, much of it for the 126 columns of kpis)
        self.seen: dict[str, list[tuple[pa.Schema, bool]]] = {t: [] for t in TABLES}
        self.union: dict[str, tuple[pa.Schema, bool]] = {}

    def add(self, block: Block, data: dict[str, Any] | None = None) -> None:
        """A block is on disk: append it, and any blocks waiting for it, in order.

        ``data``: the bytes just written to the block's part files (:func:`encode_part`,
        as :func:`write_block` took them), decoded instead of reading the files again; a
        block that must wait for an earlier one keeps only its path, and is read when its
        turn comes (so memory holds at most one block's tables)."""
        self.waiting[block.start] = block
        while self.next in self.waiting:
            b = self.waiting.pop(self.next)
            given = data if b is block and data is not None else {}
            todo = [t for t in TABLES if t not in self.dropped]
            read = block_parts(b, [t for t in todo if not isinstance(given.get(t), (bytes, pa.Buffer))])
            for table in todo:
                entry = given.get(table)
                self._append(table, decode_part(entry) if isinstance(entry, (bytes, pa.Buffer)) else read[table])
            self.next = b.stop

    def _schema(self, table: str, part: pa.Table) -> tuple[pa.Schema, bool]:
        """The union schema of the parts so far, as :func:`_schema_of` makes it (distinct
        types per column in first-seen order unify the same way), and whether every column
        has a real (non-null) type."""
        key = (part.schema, part.num_rows > 0)
        if table in self.union and any(key[1] == rows and key[0].equals(schema) for schema, rows in self.seen[table]):
            return self.union[table]  # a schema already counted adds no column and no type
        self.seen[table].append(key)
        self.union[table] = self._count(table, part)
        return self.union[table]

    def _count(self, table: str, part: pa.Table) -> tuple[pa.Schema, bool]:
        names, types = self.names[table], self.types[table]
        for fld in part.schema:
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = []
            t = fld.type if part.num_rows else pa.null()
            if t not in types[fld.name]:
                types[fld.name].append(t)
        typed = all(any(not pa.types.is_null(t) for t in types[n]) for n in names)
        return pa.schema([pa.field(n, _unify(types[n])) for n in names]), typed

    def _append(self, table: str, part: pa.Table) -> None:
        schema, typed = self._schema(table, part)
        if table not in self.writers:
            if not part.num_rows:
                return  # nothing to write yet; its columns count in the schema
            if not typed:
                self._drop(table)
                return
            tmp = self.folder / f".{table}.parquet.tmp-{os.getpid()}"
            native = _dictionary_schema(schema, part.schema)
            # dictionary columns (the time series' names) are written as they are, not cast to
            # strings that Parquet then hashes back into a dictionary (~1 ms per baseline
            # replication); without the Arrow schema in the file, a reader gets the column's
            # Parquet type, a plain string: the same table as the one written from strings
            options: dict[str, Any] = {} if native.equals(schema) else {"store_schema": False,
                                                                        "write_statistics": _statistics_columns(native)}
            self.writers[table] = (RowGroups(tmp, native, **options), schema, tmp, native)
        writer, wschema, _, native = self.writers[table]
        if not schema.equals(wschema, check_metadata=False):
            self._drop(table)
        elif part.num_rows:
            writer.write_table(_conform(part, native))

    def _drop(self, table: str) -> None:
        self.dropped.add(table)
        entry = self.writers.pop(table, None)
        if entry is not None:
            with contextlib.suppress(Exception):  # an interrupted write; the file is discarded anyway
                entry[0].close(flush=False)
            entry[2].unlink(missing_ok=True)

    def finish(self, replications: int, meanwhile: Callable[[set[str]], None] | None = None) -> set[str]:
        """Close the files; if every replication was appended, move them into place.
        Returns the tables written (the others are for :func:`assemble`).

        A table whose every part had no rows (``rail_trips`` without rail, ``decisions``
        without policies) is written here too, as :func:`assemble` writes it: no rows, the
        union schema of its parts.  The tables are closed side by side in threads (Parquet
        encoding and fsync run outside the GIL), the KPI tables (:data:`SUMMARY_TABLES`)
        first, and ``meanwhile(written so far)`` is called in this thread as soon as those
        are final, while the others are still being closed (the run's summary reads only
        them)."""
        if self.next != replications:
            for _table, (writer, _, tmp, _native) in list(self.writers.items()):
                writer.close()
                tmp.unlink(missing_ok=True)
            self.writers.clear()
            return set()
        jobs: dict[str, tuple[RowGroups, Path]] = {t: (w, tmp) for t, (w, _, tmp, _n) in self.writers.items()}
        for table in TABLES:
            if table not in jobs and table not in self.dropped and table in self.union:
                # What it buys: assemble() read every block's part again for these two tables
                # and wrote them in its own thread pool, ~70 ms of a 200-replication run's
                # close (wall, load 3) for tables of no rows
                tmp = self.folder / f".{table}.parquet.tmp-{os.getpid()}"
                jobs[table] = (RowGroups(tmp, self.union[table][0]), tmp)
        self.writers.clear()

        def close(table: str) -> str:
            writer, tmp = jobs[table]
            writer.close()
            fsync_file(tmp)  # the one fsync of a streamed table: its data, before it is final
            os.replace(tmp, self.folder / f"{table}.parquet")
            return table

        first = [t for t in SUMMARY_TABLES if t in jobs]
        done = {close(t) for t in first}
        rest = [t for t in jobs if t not in done]
        with ThreadPoolExecutor(max_workers=max(1, min(len(rest), os.cpu_count() or 1))) as pool:
            futures = [pool.submit(close, t) for t in rest]
            try:
                if meanwhile is not None:
                    meanwhile(set(done))
            finally:
                failed = []
                for f in futures:  # every table's outcome, not only the first failure's
                    try:
                        done.add(f.result())
                    except Exception as e:  # noqa: BLE001 - gathered, then raised below
                        failed.append(e)
                if failed:
                    for other in failed[1:]:
                        failed[0].add_note(f"closing another table failed too: {other}")
                    raise failed[0]
        return done

    def abort(self) -> None:
        """Stop without writing anything final (an interrupted run)."""
        for table in list(self.writers):
            self._drop(table)


def assemble(folder: Path, replications: int, skip: Iterable[str] = ()) -> None:
    """Join the blocks into the final tables (except those in ``skip``, already written by
    an :class:`Assembler`), sorted by replication, streaming one block at a time (memory
    stays at one block).  Raises if a replication is missing."""
    blocks = finished_blocks(folder)
    covered = [i for b in blocks for i in b.replications]
    if covered != list(range(replications)):
        missing = sorted(set(range(replications)) - set(covered))
        raise RuntimeError(f"cannot assemble {folder}: replications missing ({missing[:10]}...)")
    todo = [t for t in TABLES if t not in set(skip)]

    def join(table: str) -> None:
        schema = _union_schema(blocks, table)
        target = folder / f"{table}.parquet"
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        writer = RowGroups(tmp, schema)
        try:
            for b in blocks:
                t = block_parts(b, [table])[table]
                if t.num_rows:
                    writer.write_table(_conform(t, schema))
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close(flush=False)
            tmp.unlink(missing_ok=True)
            raise
        writer.close()
        fsync_file(tmp)
        os.replace(tmp, target)

    # one thread per table: Arrow reads and Parquet encoding run outside the GIL, so the
    # tables are written side by side on all cores (the time series dominates)
    with ThreadPoolExecutor(max_workers=min(len(TABLES), os.cpu_count() or 1)) as pool:
        for done in [pool.submit(join, table) for table in todo]:
            done.result()


def remove_parts(folder: Path) -> None:
    """Delete the blocks of a run whose final tables are written."""
    shutil.rmtree(folder / PARTS, ignore_errors=True)


def whole_blocks(folder: Path) -> list[Block]:
    """The finished blocks whose every part still has its recorded SHA-256 (see
    :func:`_whole`), in replication order: what a reader of an unfinished run may take as
    data.  The others are left on disk (a reader deletes nothing; a resume drops them).  A
    block whose replications overlap an earlier whole block's (a copied or renamed block
    file) is left out too, so no replication is read twice."""
    kept: list[Block] = []
    for b in finished_blocks(folder):
        if (not kept or b.start >= kept[-1].stop) and _whole(b):
            kept.append(b)
    return kept


def read_concat(folder: Path, table: str, blocks: list[Block] | None = None) -> pd.DataFrame:
    """One table of a run: the final file, or the finished blocks of an incomplete run;
    with ``blocks`` (e.g. :func:`whole_blocks`), those blocks only, even where a final
    file has appeared since they were listed."""
    final = folder / f"{table}.parquet"
    if blocks is None and final.exists():
        return pd.read_parquet(final)
    chosen = finished_blocks(folder) if blocks is None else blocks
    if not chosen:
        return pd.DataFrame()
    schema = _union_schema(chosen, table)
    return pa.concat_tables([_conform(block_parts(b, [table])[table], schema) for b in chosen]).to_pandas()

