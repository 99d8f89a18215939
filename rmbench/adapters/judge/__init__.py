"""Everything about generative judges: the adapter and its modes, prompts, verdict parsing, grading,
options and the report section."""
