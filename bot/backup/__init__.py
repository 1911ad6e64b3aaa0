"""Backups that restore: the desk, Rasa's tracker store, in SQLite mode the SQL event broker's table, and the
records the channels keep in `FRONTLINE_VAR`.

`python -m bot backup --out DIR` and `python -m bot restore --from DIR` (docs: deploy/README.md, "Backups"):

- `parts.py`: what is backed up, found the way Frontline finds it (`DATABASE_URL` or `var/desk.db`; the
  `tracker_store` and `event_broker` of the endpoints file, SQLite files under `FRONTLINE_VAR`); and the
  channels' records: the e-mail channel's `email.db` and `email-attachments/` (without them a reply to an old
  thread starts a new conversation, and the kept mails are lost), and on one machine (no Redis) the 微信客服
  cursor `wechat-kf.db` and the delivery keys `channel-keys.db`.
- `sqlite.py`: SQLite's online backup API: a consistent copy while Frontline runs.
- `postgres.py`: `pg_dump --format=custom` of Frontline's tables only, from one snapshot whose row counts are
  recorded; `pg_restore` in one transaction.
- `files.py`: a folder of files (the e-mail attachments) copied with private modes, and every file's SHA-256.
- `archive.py`: the folder, its `manifest.json` (each part, its file and its SHA-256, each table's row count or
  each attachment file), and the restore into a fresh database, refused when a backed-up file changed, and
  checked against those counts.

Rows and files are copied as stored: with encryption at rest (`FRONTLINE_DATA_KEYS`), a restored database and
the restored kept mails and attachments need the same keys to be read.
"""
