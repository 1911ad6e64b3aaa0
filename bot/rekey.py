"""`python -m bot rekey`: re-encrypt every stored conversation value under the first data key.

After a rotation (`FRONTLINE_DATA_KEYS=new,old`, processes restarted), this rewrites the event data of Rasa's
SQL tracker store and of the SQL event broker table, the desk's message texts, context packets and survey
comments, and the e-mail channel's kept raw mails and attachment files (`var/email.db`,
`var/email-attachments/`), under the new key; values written before encryption existed are encrypted too. Then the old key can
be dropped (`FRONTLINE_DATA_KEYS=new`). Values already under the first key are left alone, so a second run
changes nothing. One run at a time (the purge's lock); short transactions, so it can run while Frontline does.
"""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot rekey` (none: the keys come from `FRONTLINE_DATA_KEYS`)."""
    parser.description = __doc__


def main(args: argparse.Namespace) -> int:
    """`python -m bot rekey`: one summary line; 0 unless a value cannot be decrypted or no key is set."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bot import data_keys
    from bot.maintenance import Stores, maintenance_lock

    try:
        stores = Stores.open()
        cipher = data_keys.cipher()
    except data_keys.DataKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        with maintenance_lock(stores.desk_url) as held:
            if not held:
                print("rekey: a purge or another rekey is running; nothing done")
                return 0
            counts = [store.rekey() if store is not None else 0
                      for store in (stores.tracker, stores.broker, stores.desk, stores.mail)]
        print(
            f"rekey: {counts[0]} tracker store events, {counts[1]} broker events and {counts[2]} desk values "
            f"re-encrypted, and {counts[3]} kept e-mails and attachment files, under the first of the "
            f"{cipher.key_count} key(s) of {cipher.source}"
        )
        return 0
    except data_keys.DataKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stores.close()
