"""One statement on the PostgreSQL every machine runs (127.0.0.1:5432, user postgres, trust): for tests and
benchmarks that create and drop databases of their own (outside a transaction, as CREATE DATABASE needs)."""

from __future__ import annotations

LOCAL = "postgresql://postgres@127.0.0.1:5432"


def run_sql(sql: str, database: str = "test", server: str = LOCAL) -> None:
    """Run one statement in autocommit mode on `database` of `server` (a URL without the database)."""
    import psycopg2

    connection = psycopg2.connect(f"{server}/{database}")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()
