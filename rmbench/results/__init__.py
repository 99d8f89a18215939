"""The run directory and what is computed from it: files, identity, audit, summary and aggregates."""
