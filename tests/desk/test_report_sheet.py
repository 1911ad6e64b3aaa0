"""`python -m bot report`: the spreadsheet opens with openpyxl and holds one sheet per view, with charts, in the
language asked for; bad dates are refused."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any, Dict

import pytest
from openpyxl import load_workbook

from bot.desk.config import load
from bot.desk.rasa_client import RasaClient
from bot.desk.report_sheet import SHEETS, word
from bot.desk.service import Desk
from bot.desk.store import Store
from bot.settings import repo_root
from tests.desk.conftest import PlainCalendar, build_packet

DAY = dt.date(2025, 9, 22)


@pytest.fixture
def database(tmp_path: Any, settings: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    store = Store(url)
    store.migrate()
    desk = Desk(store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=PlainCalendar())
    noon = dt.datetime(2025, 9, 22, 4, 0, tzinfo=dt.timezone.utc).timestamp()  # 12:00 in Shanghai
    monkeypatch.setenv("FRONTLINE_NOW", dt.datetime.fromtimestamp(noon, dt.timezone.utc).isoformat())
    for n, reason in enumerate(["anger", "anger", "asked_for_human"]):
        desk.intake.create_ticket(build_packet(f"x{n}", reason=reason))
    store.close()
    monkeypatch.delenv("FRONTLINE_NOW")
    return url


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "bot", "report", *args], cwd=repo_root(), env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_report_spreadsheet_holds_every_view_with_charts(database: str, tmp_path: Any, language: str) -> None:
    out = tmp_path / f"report-{language}.xlsx"
    done = run(database, "--from", "2025-09-22", "--to", "2025-09-28", "--out", str(out), "--language", language)
    assert done.returncode == 0, done.stderr
    book = load_workbook(out)
    assert book.sheetnames == [word(key, language) for key in SHEETS]
    summary = {row[0]: row[1] for row in book[word("summary", language)].iter_rows(min_row=2, values_only=True)}
    assert summary[word("tickets", language)] == 3
    reasons = book[word("reasons", language)]
    assert [r for r in reasons.iter_rows(min_row=2, values_only=True)] == [("anger", 2), ("asked_for_human", 1)]
    days = [r[0] for r in book[word("by_day", language)].iter_rows(min_row=2, values_only=True)]
    assert days == [(DAY + dt.timedelta(days=n)).isoformat() for n in range(7)]
    hours = {r[0]: r[1] for r in book[word("by_hour", language)].iter_rows(min_row=2, values_only=True)}
    assert hours[12] == 3 and sum(hours.values()) == 3  # created at 12:00 Shanghai time
    for key in ("by_day", "by_hour", "reasons", "csat"):
        assert book[word(key, language)]._charts, key  # openpyxl keeps the charts it read


def test_bad_dates_are_refused_with_the_reason(database: str, tmp_path: Any) -> None:
    done = run(database, "--from", "2025-09-30", "--to", "2025-09-01", "--out", str(tmp_path / "x.xlsx"))
    assert done.returncode == 2 and "is before" in done.stderr
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_spreadsheet_shows_the_nps_of_the_period(language: str) -> None:
    from bot.calendar import BusinessCalendar
    from bot.desk.report_sheet import workbook
    from tests.desk.test_kpis import at, figures, ticket

    t0 = at(2025, 9, 22, 10, 0)
    tickets = [ticket(t0, rating=5, nps=10), ticket(t0, rating=5, nps=9), ticket(t0, rating=2, nps=3),
               ticket(t0, rating=4, nps=8)]
    report = figures(BusinessCalendar.from_settings(), tickets).report(group_by="day")
    report["period"] = {"from": "2025-09-01", "to": "2025-10-31", "timezone": "Asia/Shanghai"}
    book = workbook(report, language)
    summary = {row[0]: row[1] for row in book[word("summary", language)].iter_rows(min_row=2, values_only=True)}
    assert summary[word("nps", language)] == 25.0  # 2 promoters, 1 detractor of 4: 50% - 25%
    csat = {row[0]: row[1] for row in book[word("csat", language)].iter_rows(min_row=2, values_only=True) if row}
    assert csat[word("promoters", language)] == 2 and csat[word("detractors", language)] == 1
    assert csat[word("passives", language)] == 1 and csat[word("nps_count", language)] == 4
