"""E-mail attachments in the console, in a real headless Chromium against a real desk process sharing the Rasa
server's var folder: the customer's mail line lists its attachments (name, type, size) and the kept raw mail as
download links, with no inline preview; a click saves the very bytes the customer sent, an HTML file included
(saved, never opened in the page)."""

from __future__ import annotations

import pathlib

import pytest
import requests

from desk_harness import chromium, desk_cli, desk_env, desk_process, open_console, require_chromium
from mail_kept import NOTES, PAGE, PROGRAM, TRANSCRIPT_AT, email_packet, keep_mail, kept_ids, mime_mail
from test_console_reconnect import PASSWORD, settle_password

pytestmark = pytest.mark.browser

SECRET = "mail-browser-secret"
TIMEOUT = 20_000  # ms


def test_the_console_lists_a_mails_attachments_and_downloads_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
    var = pathlib.Path(env["FRONTLINE_VAR"])
    var.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("FRONTLINE_VAR", str(var))  # one machine: the channel and the desk share var/ and its data key
    desk_cli(env, "add-agent", "alice", "--password", PASSWORD, "--skills", "general,orders")
    raw = mime_mail("wang@example.com", "<browser-1@example.com>", [NOTES, PAGE, PROGRAM])
    thread, _ = keep_mail(var, raw, at=TRANSCRIPT_AT)  # the mail of the transcript's customer line
    with desk_process(env, tmp_path / "desk.log") as url:
        settle_password(url, "alice", PASSWORD)
        created = requests.post(f"{url}/internal/tickets", json=email_packet(thread),
                                headers={"X-Frontline-Secret": SECRET}, timeout=5)
        assert created.status_code == 201, created.text
        code = created.json()["id"]
        with chromium() as browser:
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            open_console(page, url, "alice", PASSWORD, TIMEOUT)
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            files = page.locator("li.msg-customer [data-testid=mail-files]")  # under the customer's message
            expect(files).to_have_count(1, timeout=TIMEOUT)
            items = files.locator("[data-testid=mail-attachment]")
            expect(items).to_have_count(3)
            expect(items.nth(0)).to_contain_text(f"notes.txt · text/plain · {len(NOTES[2])} bytes")
            expect(items.nth(1)).to_contain_text("page.html · text/html")
            expect(items.nth(2)).to_contain_text("setup.exe")
            expect(items.nth(2).locator("[data-testid=mail-attachment-refused]")).to_be_visible()
            expect(items.nth(2).locator("a")).to_have_count(0)  # not kept: nothing to download
            # No preview of any kind: no picture, frame or object shows a file inside the page.
            assert page.locator(".conversation img, .conversation iframe, .conversation object, "
                                ".conversation embed").count() == 0

            saved = {}
            for link, name in ((items.nth(0).locator("a"), "notes.txt"), (items.nth(1).locator("a"), "page.html"),
                               (files.locator("[data-testid=mail-raw-link]"), None)):
                with page.expect_download(timeout=TIMEOUT) as info:
                    link.click()
                download = info.value
                saved[name or download.suggested_filename] = pathlib.Path(download.path()).read_bytes()
                if name:
                    assert download.suggested_filename == name
            assert saved["notes.txt"] == NOTES[2]
            assert saved["page.html"] == PAGE[2]
            [raw_name] = [n for n in saved if n.endswith(".eml")]
            assert saved[raw_name] == raw
            assert page.title() != "pwned"  # the HTML file's script never ran in the console
            expect(page.locator("[data-testid=ticket-error]")).to_be_hidden()


def test_two_mails_of_the_same_second_show_their_files_under_their_own_messages(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two mails kept in the same second, each the customer line of the transcript that carries its id: each
    mail's files go under its own line (placed by the nearest time, both went under one)."""
    from playwright.sync_api import expect

    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
    var = pathlib.Path(env["FRONTLINE_VAR"])
    var.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("FRONTLINE_VAR", str(var))  # one machine: the channel and the desk share var/ and its data key
    desk_cli(env, "add-agent", "alice", "--password", PASSWORD, "--skills", "general,orders")
    thread, _ = keep_mail(var, mime_mail("wang@example.com", "<same-1@example.com>", [NOTES]), at=TRANSCRIPT_AT)
    again, _ = keep_mail(var, mime_mail("wang@example.com", "<same-2@example.com>", [PAGE], text="还有这个",
                                        in_reply_to="<same-1@example.com>"), at=TRANSCRIPT_AT)
    assert again == thread
    first, second = kept_ids(var, thread)
    at = email_packet(thread)["transcript"][0]["at"]  # both lines in the second both mails were kept
    packet = email_packet(thread, transcript=[
        {"role": "customer", "text": "我的订单呢", "at": at, "mail": first},
        {"role": "customer", "text": "还有这个", "at": at, "mail": second},
    ])
    with desk_process(env, tmp_path / "desk.log") as url:
        settle_password(url, "alice", PASSWORD)
        created = requests.post(f"{url}/internal/tickets", json=packet, headers={"X-Frontline-Secret": SECRET},
                                timeout=5)
        assert created.status_code == 201, created.text
        code = created.json()["id"]
        with chromium() as browser:
            page = browser.new_context().new_page()
            open_console(page, url, "alice", PASSWORD, TIMEOUT)
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            lines = page.locator("li.msg-customer")
            expect(lines).to_have_count(2, timeout=TIMEOUT)
            for index, (mail, name) in enumerate(((first, "notes.txt"), (second, "page.html"))):
                files = lines.nth(index).locator("[data-testid=mail-files]")
                expect(files).to_have_count(1)
                expect(files).to_have_attribute("data-mail-id", str(mail))
                expect(files.locator("[data-testid=mail-attachment]")).to_contain_text(name)
