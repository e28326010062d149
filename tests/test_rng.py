"""Random streams: replication seeds follow DESIGN.md, and named streams are independent."""

from __future__ import annotations

import numpy as np

from sim.rng import replication_seed, stream


def test_replication_i_uses_the_ith_spawned_child_of_the_run_seed():
    children = np.random.SeedSequence(2021).spawn(5)
    for i, child in enumerate(children):
        assert np.array_equal(replication_seed(2021, i).generate_state(4), child.generate_state(4))


def test_named_streams_depend_on_their_name_not_on_order():
    seq = replication_seed(7, 3)
    a = stream(seq, "disruption", "fog").random(3)
    assert np.array_equal(a, stream(seq, "disruption", "fog").random(3))
    assert not np.array_equal(a, stream(seq, "disruption", "storm").random(3))
    assert not np.array_equal(a, stream(replication_seed(7, 4), "disruption", "fog").random(3))
