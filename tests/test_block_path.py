"""The parent's block path (issue 19): blocks appended from the bytes the worker sent, part
schemas counted once, blocks not fsynced one by one, so a block an OS crash cut short is run
again on resume.  Every shortcut must write the tables the longer way wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks import workloads
from sim import runner
from sim.recorder import Records
from sim.results import parts, store
from sim.runner.executors import replicate_block
from sim.scenario.language import Scenario


def zeroed_part(data: bytes) -> bytes:
    """A part's bytes with every float value zeroed: the same length, and it reads as valid
    Arrow (what data pages never written back look like)."""
    table = parts.decode_part(data)
    # times 0: every finite value becomes 0 and the nulls stay (so the validity bitmaps, and
    # the part's length, are as written)
    zeroed = pa.table({c: (pc.multiply(table[c], 0.0) if pa.types.is_floating(table[c].type) else table[c])
                       for c in table.column_names})
    out = parts.encode_part(zeroed).to_pybytes()
    assert out != data and len(out) == len(data)
    return out


def overwrite_part(block: parts.Block, table: str, data: bytes) -> None:
    """Put ``data`` where ``table``'s part is in the block file, leaving its index (and the
    SHA-256 it recorded) as written."""
    offset, length, _ = parts.block_index(block)[table]
    assert len(data) == length
    raw = bytearray(block.path.read_bytes())
    raw[offset:offset + length] = data
    block.path.write_bytes(bytes(raw))


def _tables(folder: Path) -> dict[str, object]:
    return {t: pq.read_table(folder / f"{t}.parquet") for t in store.TABLES if (folder / f"{t}.parquet").exists()}


def test_a_block_appended_from_its_bytes_writes_the_tables_a_block_read_from_its_files_writes(tmp_path):
    """Four blocks of 2 shuttle replications, appended once from the bytes ``replicate_block``
    returned (what the runner does now) and once from the part files read back (what it did):
    every final table is the same Arrow table, schema included, and the block that arrived
    early (replications 4-5 before 2-3) is read from its files when its turn comes."""
    scenario = workloads.shuttle_scenario(3)
    from_bytes, from_files = tmp_path / "bytes", tmp_path / "files"
    for folder in (from_bytes, from_files):
        folder.mkdir()
    a, b = parts.Assembler(from_bytes), parts.Assembler(from_files)
    for start in (0, 4, 2, 6):  # 4-5 arrives before 2-3: it waits
        res = replicate_block(scenario, 5, range(start, start + 2))
        a.add(parts.write_block(from_bytes, start, start + 2, res.tables), res.tables)
        b.add(parts.write_block(from_files, start, start + 2, res.tables))
    written = a.finish(8)
    assert written == b.finish(8) and {"kpis", "timeseries", "voyages"} <= written
    ta, tb = _tables(from_bytes), _tables(from_files)
    assert ta.keys() == tb.keys() and ta
    for name in ta:
        assert ta[name].equals(tb[name], check_metadata=True), name


def test_a_part_schema_seen_before_is_not_counted_again_and_a_new_one_still_widens_the_union(tmp_path):
    """The union schema of kpis parts: the same schema twice leaves it as it was (the cache);
    a part with an extra share column then adds the column, as :func:`parts._schema_of` of
    all three parts gives it."""
    import pyarrow as pa

    asm = parts.Assembler(tmp_path)
    one = pa.table({"replication": pa.array([0], pa.int64()), "x": pa.array([1.0])})
    two = pa.table({"replication": pa.array([1], pa.int64()), "x": pa.array([2.0])})
    wider = pa.table({"replication": pa.array([2], pa.int64()), "x": pa.array([3.0]), "share_a": pa.array([0.5])})
    first = asm._schema("kpis", one)
    assert asm._schema("kpis", two) is first  # seen: the cached union, not a recount
    assert len(asm.seen["kpis"]) == 1
    union, typed = asm._schema("kpis", wider)
    assert typed and union.equals(parts._schema_of([(t.schema, t.num_rows) for t in (one, two, wider)]))
    assert union.names == ["replication", "x", "share_a"]


CALLS: list[int] = []


def _counted(limit: int | None):
    """The built-in model, recording each replication it runs, raising KeyboardInterrupt
    (Ctrl-C) at replication ``limit``."""
    def model(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
        from sim.model import simulate

        i = int(seed_seq.spawn_key[-1])
        if limit is not None and i >= limit:
            raise KeyboardInterrupt
        CALLS.append(i)
        return simulate(scenario, seed_seq)
    return model


def _clean_and_stopped_at_4(tmp_path: Path, monkeypatch) -> tuple[store.RunResult, Path]:
    """A clean serial run of 6 shuttle replications (seed 5), and the folder of the same run
    stopped at replication 4 with one replication per block (blocks for 0-3 on disk)."""
    scenario = workloads.shuttle_scenario(3)
    clean = runner.run(scenario, replications=6, seed=5, executor="serial", out=tmp_path / "clean", progress=False)
    monkeypatch.setattr("sim.runner.execution.FLUSH_EVERY_S", 0.0)  # one replication per block
    stopped = tmp_path / "stopped"
    with pytest.raises(runner.RunInterrupted):
        runner.run(scenario, replications=6, seed=5, executor="serial", out=stopped, model=_counted(4),
                   progress=False)
    return clean, stopped


def _same_run(a: Path, b: Path) -> None:
    """Every table and the summary of two run folders are the same."""
    ta, tb = _tables(a), _tables(b)
    assert ta.keys() == tb.keys()
    for name in ta:
        assert ta[name].equals(tb[name]), name
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()


def test_a_block_cut_short_by_a_crash_is_run_again_on_resume(tmp_path, monkeypatch):
    """Blocks are renamed into place without an fsync, so after an OS crash a block can be
    there with a short file.  A serial run of 6 shuttle replications, one per block, stopped
    at replication 4 leaves blocks for 0-3; replication 2's block file is then cut to half
    its bytes.  Resume drops that block and runs replications 2, 4 and 5 (no
    other), and the run's every table and its summary are those of a clean run of 6."""
    clean, cut = _clean_and_stopped_at_4(tmp_path, monkeypatch)
    blocks = store.finished_blocks(cut)
    assert [list(b.replications) for b in blocks] == [[0], [1], [2], [3]]
    victim = blocks[2].path
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    CALLS.clear()
    res = runner.resume(cut, model=_counted(None), progress=False)
    assert res.complete and sorted(CALLS) == [2, 4, 5]
    _same_run(clean.path, res.path)


def test_a_run_left_unfinished_with_block_folders_resumes_by_running_their_replications_again(tmp_path,
                                                                                             monkeypatch):
    """Versions before the block file wrote a block as a folder ``parts/r<start>-<stop>/``
    of part files.  A run stopped at replication 4 whose block for replication 1 is such a
    folder: the resume takes blocks 0, 2 and 3 as done, runs 1, 4 and 5, and the tables and
    summary are a clean run's (the folder goes with ``parts/``)."""
    clean, old = _clean_and_stopped_at_4(tmp_path, monkeypatch)
    block = store.finished_blocks(old)[1]
    folder = block.path.with_name(block.path.name.removesuffix(parts.BLOCK_EXT))
    folder.mkdir()
    for table, data in ((t, parts.block_part_bytes(block, t)) for t in store.TABLES):
        (folder / f"{table}{parts.PART_EXT}").write_bytes(data.to_pybytes())
    block.path.unlink()
    assert [b.start for b in store.finished_blocks(old)] == [0, 2, 3]
    CALLS.clear()
    res = runner.resume(old, model=_counted(None), progress=False)
    assert res.complete and sorted(CALLS) == [1, 4, 5] and not (old / store.PARTS).exists()
    _same_run(clean.path, res.path)


def test_only_blocks_with_an_unreadable_index_or_a_part_cut_short_are_dropped(tmp_path):
    """Three blocks; the first's index reads as zeros (its first page never written back),
    the last is cut short by 8 bytes (its last part's footer: length and magic): those two
    go, the whole one stays."""
    scenario = workloads.shuttle_scenario(3)
    for start in (0, 1, 2):
        parts.write_block(tmp_path, start, start + 1, replicate_block(scenario, 5, range(start, start + 1)).tables)
    blocks = store.finished_blocks(tmp_path)
    first = blocks[0].path.read_bytes()
    blocks[0].path.write_bytes(bytes(4096) + first[4096:])
    last = parts.block_index(blocks[2])[store.TABLES[-1]]
    blocks[2].path.write_bytes(blocks[2].path.read_bytes()[: last[0] + last[1] - 8])
    assert [b.start for b in parts.drop_broken_blocks(tmp_path)] == [0, 2]
    assert [b.start for b in store.finished_blocks(tmp_path)] == [1]


def test_a_block_whose_data_never_reached_the_disk_is_dropped_though_its_footer_reads(tmp_path):
    """A crash can leave a part file of the right length whose data pages were never written
    back (zeros): its footer and record batches still read, so only the block's recorded
    SHA-256 shows it.  Three blocks; the second's kpis part is rewritten in place as the
    same table with every float value zeroed (it opens and reads as valid Arrow): that
    block goes, the first stays; a block whose index was never written back (zeros) goes
    too."""
    scenario = workloads.shuttle_scenario(3)
    for start in (0, 1, 2):
        parts.write_block(tmp_path, start, start + 1, replicate_block(scenario, 5, range(start, start + 1)).tables)
    blocks = store.finished_blocks(tmp_path)
    overwrite_part(blocks[1], "kpis", zeroed_part(parts.block_part_bytes(blocks[1], "kpis").to_pybytes()))
    assert len(parts.block_parts(blocks[1], ["kpis"])["kpis"])  # it still reads
    index_end = parts.block_index(blocks[2])["kpis"][0]
    blocks[2].path.write_bytes(bytes(index_end) + blocks[2].path.read_bytes()[index_end:])
    assert [b.start for b in parts.drop_broken_blocks(tmp_path)] == [1, 2]
    assert [b.start for b in store.finished_blocks(tmp_path)] == [0]


def test_a_close_that_fails_in_two_tables_says_both_leaves_the_run_unfinished_and_resumes(tmp_path, monkeypatch):
    """The close writes the tables side by side in threads.  A full disk while two of them
    are flushed (timeseries and voyages): the run stops with an error that names both, its
    manifest still says incomplete (a reader takes its blocks, not the finals), and a resume
    gives a clean run's tables and summary."""
    import errno

    scenario = workloads.shuttle_scenario(3)
    clean = runner.run(scenario, replications=4, seed=5, executor="serial", out=tmp_path / "clean", progress=False)
    real = parts.fsync_file

    def full_disk(path):
        if path.name.startswith((".timeseries.parquet", ".voyages.parquet")):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path)

    monkeypatch.setattr(parts, "fsync_file", full_disk)
    with pytest.raises(Exception) as info:
        runner.run(scenario, replications=4, seed=5, executor="serial", out=tmp_path / "full", progress=False)
    told = str(info.value) + " ".join(getattr(info.value, "__notes__", []))
    for e in (info.value, info.value.__cause__, info.value.__context__):
        told += " ".join(getattr(e, "__notes__", []) or []) + str(e)
    assert "timeseries" in told and "voyages" in told, told
    assert store.read_manifest(tmp_path / "full")["status"] == "incomplete"
    assert len(store.open_run(tmp_path / "full").kpis) == 4
    monkeypatch.setattr(parts, "fsync_file", real)
    res = runner.resume(tmp_path / "full", progress=False)
    assert res.complete
    _same_run(clean.path, res.path)
