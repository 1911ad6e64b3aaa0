"""Trainer tools: the project linter, the FAQ spreadsheet round trip, conversation review and evaluation.

Every tool works on a project root (the folder holding `domain.yml`, `data/` and `settings.yml`), the
repository by default, so tests and dry runs can point it at a copy. Run them as `python -m bot lint`,
`python -m bot faq …`, `python -m bot review …` and `python -m bot evaluate`; `docs/training.md` is the guide.
"""
