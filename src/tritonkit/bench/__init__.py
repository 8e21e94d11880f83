"""Measuring a served model: runs and sweeps, the built-in load generator and perf_analyzer."""
