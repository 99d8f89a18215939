"""Everything about step-level evaluation: process reward models and critics, step options, thresholds,
step grading and metrics."""
