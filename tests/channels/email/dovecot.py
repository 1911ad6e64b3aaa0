"""A private Dovecot IMAP server for the tests: its own configuration, port, mail folder and log under a temporary
folder, started in the foreground (`dovecot -F`) and stopped by its pid; never the system's instance."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
from typing import Optional, Tuple

from bot.devtools import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def available() -> bool:
    return os.path.exists(DOVECOT)


class Dovecot:
    """One user (`user`, `password`) with a Maildir INBOX, IMAP on 127.0.0.1 (loopback only): in plaintext, or
    only over TLS (`imaps`) when given a certificate and its key (`tls`, PEM files).

    `capabilities` replaces what the server announces (Dovecot's `imap_capability`, before and after the login):
    e.g. without IDLE, for a reader that has to poll."""

    def __init__(
        self, folder: pathlib.Path, user: str = "frontline", password: str = "mail-test-pw",
        capabilities: Optional[str] = None, tls: Optional[Tuple[pathlib.Path, pathlib.Path]] = None,
    ) -> None:
        self.folder = folder
        self.user = user
        self.password = password
        self.capabilities = capabilities
        self.tls = tls
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None

    @staticmethod
    def mail_ids() -> tuple:
        """The owner of the mail: this user, or Dovecot's own user when running as root (Dovecot refuses uid 0)."""
        if os.getuid() != 0:
            return os.getuid(), os.getgid()
        import pwd

        entry = pwd.getpwnam("dovecot")
        return entry.pw_uid, entry.pw_gid

    def config(self) -> str:
        f = self.folder
        uid, gid = self.mail_ids()
        root = os.getuid() == 0
        internal = "dovecot" if root else os.environ.get("USER", "root")
        login = "dovenull" if root else internal
        plain_port, tls_port = (0, self.port) if self.tls else (self.port, 0)
        if self.tls:
            cert, key = self.tls
            ssl_lines = f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}"
        else:
            ssl_lines = "ssl = no"
        capability_line = f"imap_capability = {self.capabilities}" if self.capabilities else ""
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {f}/run
state_dir = {f}/state
log_path = {f}/dovecot.log
info_log_path = {f}/dovecot.log
{ssl_lines}
{capability_line}
first_valid_uid = {uid}
first_valid_gid = {gid}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{f}/mail/%u
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {"dovecot" if root else internal}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {f}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={f}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service auth {{
  user = {"root" if root else internal}
}}
service auth-worker {{
  user = {"root" if root else internal}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

    def start(self, timeout: float = 20.0) -> "Dovecot":
        for name in ("run", "state", "mail", "home"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        uid, gid = self.mail_ids()
        for name in ("mail", "home"):
            os.chown(self.folder / name, uid, gid)
        (self.folder / "passwd").write_text(f"{self.user}:{self.password}::::::\n")
        conf = self.folder / "dovecot.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode(errors='replace')} {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if self.tls:  # the greeting comes inside TLS (the probe does not check the certificate)
                        unchecked = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                        unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE
                        with unchecked.wrap_socket(probe) as secured:
                            if secured.recv(100).startswith(b"* OK"):
                                return self
                    elif probe.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"dovecot did not answer on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
