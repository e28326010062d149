"""From a replication's Records to tables: KPI catalogue, metrics, dependency shares, and the
results store (run folders, manifests, Parquet)."""
