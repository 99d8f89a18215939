"""Task specs and the data they read: task YAML (``task``), sources (the only module importing
``datasets``), file decoding (``files``), examples, and converters from upstream records to typed examples."""
