"""Minimal reproducers of the findings, one directory per target (see make.py and docs/fuzzing.md)."""
