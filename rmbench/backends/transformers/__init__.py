"""The transformers backend: loading, batched forwards (sequence, token and position scores), generation."""
