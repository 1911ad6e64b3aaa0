"""`python -m bot report --from D --to D --out report.xlsx`: the period report as a spreadsheet.

One sheet per view (summary, by day, volume by hour, handoff reasons, topics, CSAT with NPS, SLA, agents), charts on the
views that have a shape (volume by hour, first response and CSAT over the days, handoff reasons, the CSAT
distribution), headings in Chinese or English (`reports.language`, or `--language`). The figures are those of
`GET /api/reports` (`bot.desk.reports`); their definitions are in `docs/kpis.md`.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
from typing import Any, Dict, List, Optional, Sequence

logger = logging.getLogger(__name__)

# key -> (zh, en): every heading and label of the spreadsheet
WORDS: Dict[str, tuple] = {
    "summary": ("概览", "Summary"), "by_day": ("按日", "By day"), "by_hour": ("按小时", "By hour"),
    "reasons": ("转人工原因", "Handoff reasons"), "topics": ("主题", "Topics"), "csat": ("满意度", "CSAT"),
    "sla": ("SLA", "SLA"), "agents": ("坐席", "Agents"),
    "figure": ("指标", "Figure"), "value": ("数值", "Value"), "period": ("统计周期", "Period"),
    "tickets": ("工单数", "Tickets"), "first_p50": ("首次响应 P50（秒）", "First response p50 (s)"),
    "first_p90": ("首次响应 P90（秒）", "First response p90 (s)"),
    "first_within": ("首次响应达标率 %", "First response within target %"),
    "asa": ("平均应答速度（秒）", "Average speed of answer (s)"),
    "resolution_avg": ("平均解决时长（秒）", "Average resolution (s)"),
    "handle_avg": ("平均处理时长（秒）", "Average handle time (s)"),
    "abandon_pct": ("放弃率 %", "Abandonment %"), "containment": ("自助率", "Containment rate"),
    "bot_resolution": ("机器人解决率 %", "Assistant resolution %"), "fallback": ("未识别率", "Fallback rate"),
    "fcr": ("一次解决率 %", "One-contact resolution %"), "complaint_rate": ("投诉率", "Complaint rate"),
    "second_rate": ("二次投诉率", "Second-complaint rate"), "csat_share": ("满意度（4–5 分）%", "CSAT (4–5) %"),
    "sla_met": ("SLA 达成率 %", "SLA met %"), "day": ("日期", "Day"), "hour": ("小时", "Hour"),
    "contacts": ("机器人咨询", "Assistant contacts"), "reason": ("原因", "Reason"), "count": ("数量", "Count"),
    "topic": ("主题", "Topic"), "turns": ("消息数", "Turns"), "handed_off": ("转人工", "Handed off"),
    "handoff_rate": ("转人工比例", "Handoff rate"), "rating": ("评分", "Rating"),
    "wait": ("等待（秒）", "Wait (s)"), "share": ("4–5 分占比", "Share 4–5"), "grade": ("等级", "Grade"),
    "channel": ("渠道", "Channel"), "judged": ("已判定", "Judged"), "met": ("达成", "Met"),
    "agent": ("坐席", "Agent"), "resolved": ("已解决", "Resolved"), "csat_count": ("评价数", "Ratings"),
    "qa": ("质检分", "QA score"),
    "nps": ("净推荐值 NPS", "NPS"), "nps_count": ("推荐问题回答数", "Recommendation answers"),
    "promoters": ("推荐者（9–10）", "Promoters (9–10)"), "passives": ("被动者（7–8）", "Passives (7–8)"),
    "detractors": ("贬损者（0–6）", "Detractors (0–6)"),
}
SHEETS = ("summary", "by_day", "by_hour", "reasons", "topics", "csat", "sla", "agents")


def word(key: str, language: str) -> str:
    """A heading in `zh` or `en`."""
    zh, en = WORDS[key]
    return en if language == "en" else zh


def workbook(report: Dict[str, Any], language: str) -> Any:
    """Build the workbook of a report (`PeriodReports.report(..., group_by="day")`)."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference

    def w(key: str) -> str:
        return word(key, language)

    book = Workbook()
    book.remove(book.active)

    def sheet(key: str, header: Sequence[str], rows: List[Sequence[Any]]) -> Any:
        ws = book.create_sheet(w(key))
        ws.append(list(header))
        for row in rows:
            ws.append(list(row))
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = max(12, min(40, len(str(column[0].value)) + 4))
        return ws

    def bar(ws: Any, title: str, rows: int, anchor: str, columns: int = 2, line: bool = False) -> None:
        chart = LineChart() if line else BarChart()
        chart.title = title
        chart.add_data(Reference(ws, min_col=2, max_col=columns, min_row=1, max_row=rows + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
        ws.add_chart(chart, anchor)

    first, assistant = report["first_response"], report["assistant"]
    period = report["period"]
    sheet("summary", [w("figure"), w("value")], [
        [w("period"), f"{period['from']} – {period['to']} ({period['timezone']})"],
        [w("tickets"), report["tickets"]["created"]],
        [w("first_p50"), first["p50_seconds"]], [w("first_p90"), first["p90_seconds"]],
        [w("first_within"), first["within_target_percent"]],
        [w("asa"), report["speed_of_answer"]["average_seconds"]],
        [w("resolution_avg"), report["resolution"]["average_seconds"]],
        [w("handle_avg"), report["handle_time"]["average_seconds"]],
        [w("abandon_pct"), report["abandonment"]["percent"]],
        [w("containment"), assistant["containment_rate"]], [w("bot_resolution"), assistant["resolution"]["percent"]],
        [w("fallback"), assistant["fallback_rate"]], [w("fcr"), report["one_contact_resolution"]["percent"]],
        [w("complaint_rate"), report["complaints"]["rate"]], [w("second_rate"), report["complaints"]["second_rate"]],
        [w("csat_share"), report["csat"]["share_4_5_percent"]], [w("nps"), report["nps"]["score"]],
        [w("sla_met"), report["sla"]["met_percent"]],
    ])
    days = report.get("groups") or {}
    ws = sheet("by_day", [w("day"), w("first_p50"), w("csat_share"), w("tickets")], [
        [day, g["first_response_p50_seconds"],
         round(100 * g["csat_share_4_5"], 1) if g["csat_share_4_5"] is not None else None, g["tickets"]]
        for day, g in days.items()
    ])
    bar(ws, w("first_p50") + " / " + w("csat_share"), len(days), "F2", columns=3, line=True)
    volume = report["volume"]
    ws = sheet("by_hour", [w("hour"), w("tickets"), w("contacts")], [
        [int(h), volume["tickets_by_hour"][h], volume["contacts_by_hour"][h]] for h in volume["tickets_by_hour"]
    ])
    bar(ws, w("by_hour"), 24, "E2", columns=3)
    reasons = report["handoffs_by_reason"]
    ws = sheet("reasons", [w("reason"), w("count")], [[k, v] for k, v in reasons.items()])
    bar(ws, w("reasons"), len(reasons), "D2")
    topics = report["topics"]
    ws = sheet("topics", [w("topic"), w("turns"), w("contacts")], [[t["topic"], t["turns"], t["contacts"]] for t in topics["top"]])
    ws.append([])
    ws.append([w("topic"), w("contacts"), w("handed_off"), w("handoff_rate")])
    for t in topics["ending_in_handoff"]:
        ws.append([t["topic"], t["contacts"], t["handed_off"], t["handoff_rate"]])
    csat = report["csat"]
    ws = sheet("csat", [w("rating"), w("count")], [[int(k), v] for k, v in csat["distribution"].items()])
    bar(ws, w("csat"), 5, "E2")
    ws.append([])
    ws.append([w("wait"), w("count"), w("share")])
    for bucket, g in csat["by_wait"].items():
        ws.append([bucket, g["count"], g["share_4_5"]])
    nps = report["nps"]
    ws.append([])
    for key, value in (("nps", nps["score"]), ("nps_count", nps["count"]), ("promoters", nps["promoters"]),
                       ("passives", nps["passives"]), ("detractors", nps["detractors"])):
        ws.append([w(key), value])
    sla = report["sla"]
    rows: List[List[Any]] = [[f"{w('grade')} {k}", v["judged"], v["met"], v["met_percent"]] for k, v in sla["by_grade"].items()]
    rows += [[f"{w('channel')} {k}", v["judged"], v["met"], v["met_percent"]] for k, v in sla["by_channel"].items()]
    sheet("sla", [w("sla"), w("judged"), w("met"), w("sla_met")], rows)
    sheet("agents", [w("agent"), w("tickets"), w("resolved"), w("first_p50"), w("handle_avg"), w("csat_count"),
                     w("share"), w("qa")], [
        [a["agent"], a["tickets"], a["resolved"], a["first_response_p50_seconds"], a["handle_average_seconds"],
         a["csat_count"], a["csat_share_4_5"], a["qa_score"]] for a in report["agents"]
    ])
    return book


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--from`, `--to`, `--out`, `--language`."""
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (calendar time zone)")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (included)")
    parser.add_argument("--out", required=True, help="the .xlsx file to write")
    parser.add_argument("--language", choices=("zh", "en"), default=None, help="headings (default: reports.language)")


def main(args: argparse.Namespace) -> int:
    """Write the report of the period; 0 on success, 2 on bad dates."""
    from bot.calendar import get_calendar
    from bot.desk import config
    from bot.desk.errors import DeskError
    from bot.desk.reports import PeriodReports, parse_period
    from bot.desk.store import Store

    try:
        first, last = parse_period(args.start, args.end)
    except DeskError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    settings = config.load()
    store = Store(config.database_url())
    store.migrate()
    try:
        report = PeriodReports(store, settings, get_calendar()).report(first, last, group_by="day")
    finally:
        store.close()
    out = pathlib.Path(args.out)
    workbook(report, args.language or settings.report_language).save(out)
    print(f"{out}: {report['tickets']['created']} tickets, {first} – {last}")
    return 0


def cli(argv: Optional[List[str]] = None) -> int:
    """Parse `argv` as the command line of `python -m bot report` and run it."""
    parser = argparse.ArgumentParser(prog="python -m bot report")
    add_arguments(parser)
    return main(parser.parse_args(argv))
