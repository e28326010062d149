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
