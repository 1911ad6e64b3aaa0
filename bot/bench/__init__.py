"""Benchmarks and evaluation tools: `python -m bot bench assistant|nlu|anger|all` (JSON on the last line)."""
