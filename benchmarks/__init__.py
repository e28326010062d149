"""routesim benchmarks: speed and memory measured against the raw SimPy ceiling.

Run with ``make bench`` (or ``python -m benchmarks``; ``--quick`` for a short smoke run).
Every figure is measured in the same process run as its reference, printed as one table
and written as JSON to ``benchmarks/out/`` (git-ignored).  See the README's "Benchmarks"
section for the latest table and the machine it ran on.
"""
