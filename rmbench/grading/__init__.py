"""Item grading: a prediction and its example become per-item metrics under stated policies."""
