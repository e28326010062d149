"""Reading an unfinished run folder: a torn block's rows are never read as data."""

from __future__ import annotations


from benchmarks import workloads
from sim.results import parts, store
from sim.runner.executors import replicate_block
from tests.test_block_path import zeroed_part, overwrite_part


def _unfinished(folder, scenario, n):
    """A run folder as a run stopped after ``n`` one-replication blocks leaves it: the
    manifest says incomplete, the blocks are in parts/, no final table."""
    folder.mkdir()
    for start in range(n):
        parts.write_block(folder, start, start + 1, replicate_block(scenario, 5, range(start, start + 1)).tables)
    store.write_manifest(folder, store.Manifest(format_version=store.FORMAT_VERSION, scenario=scenario.name,
                                                seed=5, replications=6, replications_done=n, status="incomplete"))


def test_a_reader_of_an_unfinished_run_leaves_out_a_torn_block_and_reads_the_same_replications_everywhere(tmp_path):
    """Four blocks of one shuttle replication each; block 1's kpis part is rewritten as the
    same table with every float zeroed (what data pages never written back look like: it
    opens and reads as valid Arrow) and block 3's file is cut short in its voyages part.  ``open_run``
    gives kpis of replications 0 and 2 only (their rows as written), and voyages of
    the same two replications, the torn blocks left on disk for a resume to drop; before
    the fix the zeroed row was read as replication 1's KPIs."""
    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 4)
    before = store.open_run(folder).kpis
    blocks = store.finished_blocks(folder)
    overwrite_part(blocks[1], "kpis", zeroed_part(parts.block_part_bytes(blocks[1], "kpis").to_pybytes()))
    offset, length, _ = parts.block_index(blocks[3])["voyages"]
    blocks[3].path.write_bytes(blocks[3].path.read_bytes()[: offset + length // 2])

    run = store.open_run(folder)
    assert not run.complete
    assert [b.start for b in run.blocks] == [0, 2]
    assert list(run.kpis["replication"]) == [0, 2]
    expected = before[before["replication"].isin([0, 2])].reset_index(drop=True)
    assert run.kpis.equals(expected)  # the rows written, none of the zeroed ones
    assert sorted(run.voyages["replication"].unique()) == [0, 2]
    assert len(store.finished_blocks(folder)) == 4  # a reader deletes nothing


def test_a_reader_of_an_unfinished_run_with_whole_blocks_reads_them_all(tmp_path):
    """Three whole blocks: all three replications' rows, as a resume would count them."""
    scenario = workloads.shuttle_scenario(3)
    _unfinished(tmp_path / "run", scenario, 3)
    run = store.open_run(tmp_path / "run")
    assert list(run.kpis["replication"]) == [0, 1, 2]


def test_a_tampered_shared_folder_is_read_without_hanging_or_counting_a_replication_twice(tmp_path):
    """Someone shares an unfinished run whose folder was altered: block 1's file is a link
    to /dev/zero (reading it would never end), block 2's index is 60,000 nested brackets
    (Python's JSON decoder raises RecursionError), block 0 is copied as
    ``r0000000-0000002.block`` (overlapping blocks 0 and 1), as ``r0-1.block`` and
    ``r\u0661-\u0662.block`` (names int() reads, the last with Arabic-Indic digits), and
    linked from outside the folder as ``r0000004-0000005.block``.  The reader returns at
    once with replications 0 and 3 only, each once."""
    import os
    import shutil

    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 4)
    blocks = store.finished_blocks(folder)
    blocks[1].path.unlink()
    os.symlink("/dev/zero", blocks[1].path)
    nested = b"[" * 60_000
    blocks[2].path.write_bytes(parts.BLOCK_MAGIC + len(nested).to_bytes(8, "little") + nested)
    for name in ("r0000000-0000002", "r0-1", "r\u0661-\u0662"):
        shutil.copy(blocks[0].path, folder / parts.PARTS / f"{name}{parts.BLOCK_EXT}")
    outside = shutil.copy(blocks[0].path, tmp_path / "elsewhere.block")
    os.symlink(outside, folder / parts.PARTS / f"r0000004-0000005{parts.BLOCK_EXT}")

    run = store.open_run(folder)
    assert [(b.start, b.stop) for b in run.blocks] == [(0, 1), (3, 4)]
    assert list(run.kpis["replication"]) == [0, 3]
    # a resume drops the torn block and the whole copy overlapping block 0 (not the links,
    # which are no blocks: the resumed run's own block for replication 1 takes that name)
    assert [(b.start, b.stop) for b in parts.drop_broken_blocks(folder)] == [(0, 2), (2, 3)]


def test_tables_read_while_the_run_closes_cover_the_same_replications(tmp_path):
    """A result opened while its run streams reads kpis from the two whole blocks; the run
    then closes and puts a final ``voyages.parquet`` in place (here one of other
    replications).  That result's voyages still come from the same two blocks, not from the
    final file, so its tables never disagree on which replications they hold."""
    import pandas as pd

    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 2)
    run = store.open_run(folder)
    assert list(run.kpis["replication"]) == [0, 1]
    pd.DataFrame({"replication": [7, 8, 9]}).to_parquet(folder / "voyages.parquet")
    assert sorted(run.voyages["replication"].unique()) == [0, 1]
    assert sorted(store.open_run(folder).voyages["replication"].unique()) == [0, 1]  # a new result: unfinished


def _rewrite_index(path, change):
    """Rewrite a block file's index as someone altering a shared folder could: ``change``
    edits the decoded index (a dict of table -> [offset, length, sha256]) in place; the parts
    are kept, still aligned."""
    import json

    data = path.read_bytes()
    start = len(parts.BLOCK_MAGIC) + 8
    n = int.from_bytes(data[len(parts.BLOCK_MAGIC):start], "little")
    index = json.loads(data[start:start + n])
    change(index)
    head = json.dumps(index).encode()
    head = head.ljust(-(-(start + len(head)) // 64) * 64 - start)
    path.write_bytes(parts.BLOCK_MAGIC + len(head).to_bytes(8, "little") + head + data[start + n:])


def test_a_block_whose_index_or_part_was_altered_is_left_out_or_named_never_a_crash(tmp_path):
    """Four blocks of an unfinished run, altered in a shared folder: block 1's kpis offset
    is Infinity (Python's JSON reads it; int() of it raised OverflowError), block 2's kpis
    part is overwritten with bytes that are no Arrow file, its SHA-256 recomputed, block 3
    renamed to name replications 3-8 of a 6-replication run.  The reader leaves block 1
    out; block 2's digest vouches for it, but reading its kpis is an error naming the block
    and what to do (never ArrowInvalid as an internal error); a resume drops block 1 and the
    one past the run's count."""
    import hashlib

    import pytest

    from sim.errors import UserError

    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 4)
    blocks = store.finished_blocks(folder)
    _rewrite_index(blocks[1].path, lambda ix: ix["kpis"].__setitem__(0, float("inf")))
    data = bytearray(blocks[2].path.read_bytes())
    at = parts.block_index(blocks[2])["kpis"]
    data[at[0] + 8:at[0] + at[1] - 8] = bytes(at[1] - 16)  # Arrow's magic kept at both ends
    blocks[2].path.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data[at[0]:at[0] + at[1]])).hexdigest()
    _rewrite_index(blocks[2].path, lambda ix: ix["kpis"].__setitem__(2, digest))
    blocks[3].path.rename(blocks[3].path.with_name(f"r0000003-0000008{parts.BLOCK_EXT}"))

    run = store.open_run(folder)
    assert [(b.start, b.stop) for b in run.blocks] == [(0, 1), (2, 3), (3, 8)]
    with pytest.raises(UserError, match=r"r0000002-0000003\.block: its kpis part is not a valid Arrow file"):
        parts.block_parts(blocks[2])
    dropped = parts.drop_broken_blocks(folder, replications=6)
    assert [(b.start, b.stop) for b in dropped] == [(1, 2), (3, 8)]


def test_the_ten_millionth_replications_block_is_found():
    """A block's name pads to 7 digits; the last block of a 10,000,000-replication run has 8."""
    assert parts._BLOCK_NAME.fullmatch(f"{parts._block_name(9_999_990, 10_000_000)}{parts.BLOCK_EXT}")
