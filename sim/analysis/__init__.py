"""Analyses over runs: compare, attribution (paired counterfactuals), criticality, sensitivity."""
