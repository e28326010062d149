"""Reading an unfinished run folder: a torn block's rows are never read as data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from benchmarks import workloads
from sim.results import parts, store
from sim.runner.executors import replicate_block


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
    opens and reads as valid Arrow) and block 3's voyages part is cut short.  ``open_run``
    gives kpis of replications 0 and 2 only (their rows as written), and voyages of
    the same two replications, the torn blocks left on disk for a resume to drop; before
    the fix the zeroed row was read as replication 1's KPIs."""
    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 4)
    before = store.open_run(folder).kpis
    blocks = store.finished_blocks(folder)
    part = blocks[1].path / f"kpis{store.PART_EXT}"
    table = parts.decode_part(part.read_bytes())
    zeroed = pa.table({c: (pa.array(np.zeros(len(table)), table[c].type) if pa.types.is_floating(table[c].type)
                           else table[c]) for c in table.column_names})
    part.write_bytes(parts.encode_part(zeroed).to_pybytes())
    short = blocks[3].path / f"voyages{store.PART_EXT}"
    short.write_bytes(short.read_bytes()[: short.stat().st_size // 2])

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
    """Someone shares an unfinished run whose folder was altered: block 1's time-series part
    is a link to /dev/zero (hashing it would never end), block 2's digest file is 100,000
    nested brackets (Python's JSON decoder raises RecursionError), block 0 is copied as
    ``r0000000-0000002`` (overlapping blocks 0 and 1) and as ``r0-1`` and ``r\u0661-\u0662``
    (names int() reads, with Arabic-Indic digits).  The reader returns at once with
    replications 0 and 3 only, each once."""
    import os
    import shutil

    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 4)
    blocks = store.finished_blocks(folder)
    ts = blocks[1].path / f"timeseries{store.PART_EXT}"
    ts.unlink()
    os.symlink("/dev/zero", ts)
    (blocks[2].path / parts.BLOCK_DIGEST).write_text("[" * 100_000)
    for name in ("r0000000-0000002", "r0-1", "r\u0661-\u0662"):
        shutil.copytree(blocks[0].path, folder / parts.PARTS / name)

    run = store.open_run(folder)
    assert [(b.start, b.stop) for b in run.blocks] == [(0, 1), (3, 4)]
    assert list(run.kpis["replication"]) == [0, 3]


def test_a_part_of_another_size_than_recorded_is_refused_before_it_is_hashed(tmp_path, monkeypatch):
    """Each block's digest file records its parts' sizes: a part grown to a size other than
    the one written (a sparse multi-GB file in a shared folder) is refused without reading
    it (no SHA-256 is computed for that block)."""
    scenario = workloads.shuttle_scenario(3)
    folder = tmp_path / "run"
    _unfinished(folder, scenario, 2)
    blocks = store.finished_blocks(folder)
    with open(blocks[1].path / f"timeseries{store.PART_EXT}", "ab") as fh:
        fh.truncate(2**33)  # 8 GiB, sparse: nothing is written to the disk
    hashed = []
    real = parts.file_sha256
    monkeypatch.setattr(parts, "file_sha256", lambda p: hashed.append(p.parent.name) or real(p))
    assert [b.start for b in store.open_run(folder).blocks] == [0]
    assert blocks[1].path.name not in hashed and blocks[0].path.name in hashed


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
