"""The auditors' command line: verify chains, trace a cadre or a correlation id, replay, export."""
