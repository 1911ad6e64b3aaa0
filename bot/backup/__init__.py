"""Backups that restore: the desk, Rasa's tracker store and, in SQLite mode, the SQL event broker's table.

`python -m bot backup --out DIR` and `python -m bot restore --from DIR` (docs: deploy/README.md, "Backups"):

- `parts.py`: what is backed up, found the way Frontline finds it (`DATABASE_URL` or `var/desk.db`; the
  `tracker_store` and `event_broker` of the endpoints file, SQLite files under `FRONTLINE_VAR`).
- `sqlite.py`: SQLite's online backup API: a consistent copy while Frontline runs.
- `postgres.py`: `pg_dump --format=custom` of Frontline's tables only, from one snapshot whose row counts are
  recorded; `pg_restore` in one transaction.
- `archive.py`: the folder, its `manifest.json` (each part, its file and each table's row count), and the
  restore into a fresh database, checked against those counts.

Rows are copied as stored: with encryption at rest (`FRONTLINE_DATA_KEYS`), a restored database needs the same
keys to be read.
"""
