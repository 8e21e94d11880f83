"""Offline validation: the engine and its context, findings, reports and the rule families."""
