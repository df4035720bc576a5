"""The first level: one recording's signals to a fitted GLM and its tables (no file names, no I/O)."""
