"""Staging and running: connection pools, workers, load, sampling, conflicts, CPU, resources, plans. No UI library."""
