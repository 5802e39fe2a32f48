"""Fuzzing the readers, the parser and the CLI with generated hostile inputs (see hostile.py)."""
