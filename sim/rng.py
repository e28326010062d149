"""Random streams: every draw comes from the replication's SeedSequence, never global state.

Run seed S -> replication i uses ``SeedSequence(S).spawn(N)[i]`` (DESIGN.md).  Inside a
replication each consumer (the shipping programme, each disruption) gets its own stream,
keyed by a stable hash of its name rather than by position, so adding or reordering one
disruption leaves every other stream's draws unchanged.
"""

from __future__ import annotations

import zlib

import numpy as np


def replication_seed(seed: int, i: int) -> np.random.SeedSequence:
    """The SeedSequence of replication ``i``: the i-th child of ``SeedSequence(seed)``, built
    directly so a worker needs no other replication's sequence."""
    return np.random.SeedSequence(seed, spawn_key=(i,))


def stream(seq: np.random.SeedSequence, *keys: str) -> np.random.Generator:
    """An independent generator for the consumer named by ``keys`` within a replication."""
    key = tuple(zlib.crc32(k.encode("utf-8")) for k in keys)
    child = np.random.SeedSequence(seq.entropy, spawn_key=tuple(seq.spawn_key) + key)
    return np.random.default_rng(child)
