"""Mail out through a real relay on loopback (aiosmtpd): STARTTLS with a login, implicit TLS, and a relay that
refuses the login (a clear error, the password never logged); the URLs of FRONTLINE_SMTP_URL read right."""

from __future__ import annotations

import pathlib
import ssl
import subprocess
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from bot.channels import email_smtp
from bot.channels.email_settings import parse_imap_url, parse_smtp_url
from bot.channels.email_threads import Thread
from bot.settings import SettingsError
from tests.channels.email.mail_helpers import Relay

THREAD = Thread("t1", "alice@example.com", "退款", "<1@example.com>", ["<0@example.com>", "<1@example.com>"], "T-000009", "zh")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )
    return folder


def tls_context(folder: pathlib.Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = data.login == b"mailer" and data.password == b"s3cret-pw"
    return AuthResult(success=ok, handled=False)


@pytest.mark.parametrize("password, sent", [("s3cret-pw", True), ("wrong-pw", False)])
async def test_starttls_with_login(certificate: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: Any,
                                   password: str, sent: bool) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))  # the relay's certificate is trusted
    relay = Relay(tls_context=tls_context(certificate), require_starttls=True, auth_required=True,
                  authenticator=authenticator).start()
    try:
        server = parse_smtp_url(f"smtp+starttls://mailer:{password}@127.0.0.1:{relay.port}")
        message = email_smtp.build_reply(THREAD, "您好", "support@frontline.test", auto=False)
        if sent:
            await email_smtp.send(server, message, "support@frontline.test")
            got = relay.wait_for(lambda m: True, timeout=5)
            assert got["In-Reply-To"] == "<1@example.com>" and got["Subject"] == "Re: 退款 [T-000009]"
            assert got["References"] == "<0@example.com> <1@example.com>"
        else:
            with pytest.raises(email_smtp.MailNotSent):
                await email_smtp.send(server, message, "support@frontline.test")
            assert relay.mails == [] and password not in caplog.text
    finally:
        relay.stop()


async def test_untrusted_certificate_is_refused(certificate: pathlib.Path) -> None:
    relay = Relay(tls_context=tls_context(certificate), require_starttls=True).start()
    try:
        server = parse_smtp_url(f"smtp+starttls://127.0.0.1:{relay.port}")
        with pytest.raises(email_smtp.MailNotSent):
            await email_smtp.send(server, email_smtp.build_reply(THREAD, "x", "support@frontline.test", True), "s@x.test")
        assert relay.mails == []
    finally:
        relay.stop()


def test_urls() -> None:
    assert parse_smtp_url("smtps://u:p%40ss@mail.example.com").port == 465
    assert parse_smtp_url("smtps://u:p%40ss@mail.example.com").password == "p@ss"
    assert parse_smtp_url("smtp+starttls://mail.example.com").security == "starttls"
    assert parse_smtp_url("smtp://127.0.0.1:2526").describe() == "127.0.0.1:2526 (plain)"
    imap = parse_imap_url("imaps://me:pw@imap.example.com/Support")
    assert (imap.port, imap.path, imap.security) == (993, "Support", "tls")
    for bad in ("http://x", "smtp://", "smtps://h:notaport"):
        with pytest.raises(SettingsError):
            parse_smtp_url(bad)
    with pytest.raises(SettingsError):
        parse_imap_url("imaps://host-without-user")
