"""Mail out through a real relay on loopback (aiosmtpd): STARTTLS with a login, implicit TLS (`smtps://`) with a
login, and a relay that refuses the login (a clear error, the password never logged, counted in the Rasa server's
`frontline_rasa_delivery_failures_total{channel="email"}`); the URLs of FRONTLINE_SMTP_URL read right."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from bot.channels import email_smtp
from bot.channels.email_settings import parse_imap_url, parse_smtp_url
from bot.channels.email_threads import Thread
from bot.servers.rasa_metrics import rasa_meters
from bot.settings import SettingsError
from tests.channels.email.mail_helpers import Relay, self_signed, tls_context

THREAD = Thread("t1", "alice@example.com", "退款", "<1@example.com>", ["<0@example.com>", "<1@example.com>"], "T-000009", "zh")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return self_signed(tmp_path_factory.mktemp("tls"))


def email_failures() -> float:
    """The Rasa server's count of e-mail replies not sent, as `/metrics` shows it (this process's registry)."""
    value = rasa_meters().registry.get_sample_value("frontline_rasa_delivery_failures_total", {"channel": "email"})
    return value or 0.0


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
            failures = email_failures()
            with pytest.raises(email_smtp.MailNotSent):
                await email_smtp.send(server, message, "support@frontline.test")
            assert relay.mails == [] and password not in caplog.text
            assert email_failures() == failures + 1
    finally:
        relay.stop()


async def test_smtps_with_login(certificate: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))
    # aiosmtpd counts only STARTTLS as TLS for AUTH; on its implicit-TLS port the whole session is encrypted
    relay = Relay(ssl_context=tls_context(certificate), auth_required=True, auth_require_tls=False,
                  authenticator=authenticator).start()
    try:
        server = parse_smtp_url(f"smtps://mailer:s3cret-pw@127.0.0.1:{relay.port}")
        assert server.security == "tls"
        await email_smtp.send(server, email_smtp.build_reply(THREAD, "您好", "support@frontline.test", True), "s@x.test")
        got = relay.wait_for(lambda m: True, timeout=5)
        assert got["Subject"] == "Re: 退款 [T-000009]" and got["Auto-Submitted"] == "auto-replied"
        assert relay.envelopes[0].mail_from == "s@x.test"
        # the same relay spoken to in plaintext on its TLS port: nothing goes through, and it is counted
        failures = email_failures()
        with pytest.raises(email_smtp.MailNotSent):
            await email_smtp.send(parse_smtp_url(f"smtp://mailer:s3cret-pw@127.0.0.1:{relay.port}"),
                                  email_smtp.build_reply(THREAD, "x", "support@frontline.test", True), "s@x.test")
        assert len(relay.mails) == 1 and email_failures() == failures + 1
    finally:
        relay.stop()


async def test_untrusted_certificate_is_refused(certificate: pathlib.Path) -> None:
    relay = Relay(tls_context=tls_context(certificate), require_starttls=True).start()
    try:
        server = parse_smtp_url(f"smtp+starttls://127.0.0.1:{relay.port}")
        failures = email_failures()
        with pytest.raises(email_smtp.MailNotSent):
            await email_smtp.send(server, email_smtp.build_reply(THREAD, "x", "support@frontline.test", True), "s@x.test")
        assert relay.mails == [] and email_failures() == failures + 1
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
