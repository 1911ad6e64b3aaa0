"""Configuration of the desk: the `desk` settings section (validated) and the environment.

Secrets and addresses come only from the environment (`FRONTLINE_DESK_SECRET`, `RASA_TOKEN`,
`FRONTLINE_RASA_URL`, `DATABASE_URL`, `FRONTLINE_BROKER`, `FRONTLINE_DESK_PORT`); everything else comes from
`settings.yml`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode

from bot.amqp import amqp_url
from bot.compliance import BannedPhrases
from bot.desk.oversight_config import Oversight, parse as parse_oversight
from bot.i18n import ZH
from bot.settings import SettingsError, load_settings, repo_root, var_dir

logger = logging.getLogger(__name__)

DEFAULT_PRIORITY = {
    "grade": {"A": 300, "B": 200, "C": 100}, "vip": 150, "anger": 100, "per_waiting_minute": 5,
    "escalated": 10000,  # a ticket the escalation on red put back "at the top" (`bot.desk.alerts`)
}
DEFAULT_AVERAGE_HANDLE_SECONDS = 240
DEFAULT_CAPACITY = 3
DEFAULT_SESSION_HOURS = 12
DEFAULT_API_TOKEN_DAYS = 90
# Longer than a channel's worst case for one send: WeChat's customer-service API, 3 tries of 5 s plus backoff.
DEFAULT_RASA_TIMEOUT_SECONDS = 30.0
MAX_TEXT = 4000
DEFAULT_ABANDON_AFTER_MINUTES = 10
DEFAULT_REPEAT_COMPLAINT_DAYS = 30
REPORT_LANGUAGES = ("zh", "en")
# The lowest value of each light's figure (`reports.lights`): percents start at 0, the NPS at -100.
LIGHT_MINIMUM = {"nps": -100.0}
# What the desk does with an agent's reply, note or canned reply holding a banned phrase
# (`compliance.live_replies`): refuse it (422, nothing sent) or send it with a warning recorded for QA.
LIVE_REPLIES_REFUSE = "refuse"
LIVE_REPLIES_WARN = "warn"


@dataclasses.dataclass(frozen=True)
class DeskSettings:
    """The validated settings the desk uses (from the `desk`, `escalation` and `calendar` sections)."""

    first_response_seconds: Dict[str, int]
    skills: Dict[str, str]
    general_skill: str
    overflow_after_seconds: float
    priority: Dict[str, Any]
    grade_hours: Dict[str, float]
    warn_at: float
    canned: List[Dict[str, str]]
    calendar_teams: List[str]
    average_handle_seconds: float = DEFAULT_AVERAGE_HANDLE_SECONDS
    default_capacity: int = DEFAULT_CAPACITY
    session_hours: float = DEFAULT_SESSION_HOURS
    api_token_days: float = DEFAULT_API_TOKEN_DAYS
    rasa_timeout_seconds: float = DEFAULT_RASA_TIMEOUT_SECONDS
    abandon_after_minutes: float = DEFAULT_ABANDON_AFTER_MINUTES
    repeat_complaint_days: float = DEFAULT_REPEAT_COMPLAINT_DAYS
    report_language: str = "zh"
    # figure -> {green, yellow, higher_is_better} (`reports.lights`): the dashboard's lights
    lights: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
    banned_phrases: Tuple[str, ...] = ()
    live_replies: str = LIVE_REPLIES_REFUSE
    oversight: Oversight = Oversight()  # desk.on_red, desk.auto_assign, desk.qa (`bot.desk.oversight_config`)
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def skill_for(self, topic: Optional[str]) -> str:
        """Return the skill that handles `topic` (an intent name), or the general skill."""
        return self.skills.get(topic or "", self.general_skill)

    def team_for(self, skill: str) -> Optional[str]:
        """Return the calendar team whose hours govern `skill`, or None for the main hours."""
        return skill if skill in self.calendar_teams else None


def _number(value: Any, key: str, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise SettingsError(f"settings: '{key}' must be a number >= {minimum}, got {value!r}")
    return float(value)


def validate(settings: Mapping[str, Any]) -> DeskSettings:
    """Validate the parts of the settings the desk reads.

    Args:
        settings: the whole settings mapping (as `load_settings()` returns it).

    Returns:
        The desk settings.

    Raises:
        SettingsError: a key is missing or has a wrong value; the message names the key.
    """
    desk = settings.get("desk")
    if not isinstance(desk, Mapping):
        raise SettingsError("settings: section 'desk' is missing")
    escalation = settings.get("escalation") or {}
    if not isinstance(escalation, Mapping):
        raise SettingsError("settings: section 'escalation' must be a mapping")

    frs = desk.get("first_response_seconds")
    if not isinstance(frs, Mapping) or not frs:
        raise SettingsError("settings: 'desk.first_response_seconds' must map channel -> seconds")
    first = {str(k): int(_number(v, f"desk.first_response_seconds.{k}", 1)) for k, v in frs.items()}

    skills = desk.get("skills") or {}
    if not isinstance(skills, Mapping) or not all(isinstance(v, str) and v for v in skills.values()):
        raise SettingsError("settings: 'desk.skills' must map topic -> skill name")
    general = desk.get("general_skill", "general")
    if not isinstance(general, str) or not general:
        raise SettingsError("settings: 'desk.general_skill' must be a skill name")

    priority = dict(DEFAULT_PRIORITY)
    given = desk.get("priority") or {}
    if not isinstance(given, Mapping):
        raise SettingsError("settings: 'desk.priority' must be a mapping")
    priority.update(given)
    if not isinstance(priority["grade"], Mapping):
        raise SettingsError("settings: 'desk.priority.grade' must map grade -> weight")
    for key in ("vip", "anger", "per_waiting_minute", "escalated"):
        _number(priority[key], f"desk.priority.{key}")
    for grade, weight in priority["grade"].items():
        _number(weight, f"desk.priority.grade.{grade}")

    hours = escalation.get("grade_hours") or {"A": 1, "B": 4, "C": 24}
    if not isinstance(hours, Mapping):
        raise SettingsError("settings: 'escalation.grade_hours' must map grade -> hours")
    grade_hours = {str(k): _number(v, f"escalation.grade_hours.{k}", 0.001) for k, v in hours.items()}
    warn_at = _number(escalation.get("warn_at", 0.75), "escalation.warn_at")
    if not 0 < warn_at < 1:
        raise SettingsError(f"settings: 'escalation.warn_at' must be between 0 and 1, got {warn_at}")

    canned = desk.get("canned") or []
    if not isinstance(canned, list) or not all(isinstance(c, Mapping) and c.get("text") for c in canned):
        raise SettingsError("settings: 'desk.canned' must be a list of {id, language, title, text}")
    canned_list = [
        {
            "id": str(c.get("id") or f"canned-{i + 1}"),
            "language": str(c.get("language") or ZH),
            "title": str(c.get("title") or str(c["text"])[:30]),
            "text": str(c["text"]),
        }
        for i, c in enumerate(canned)
    ]

    banned, live_replies = _live_compliance(settings)
    for item in canned_list:
        found = BannedPhrases(banned).found_in(item["text"])
        if found:
            raise SettingsError(f"settings: desk.canned {item['id']} contains the banned phrase '{found[0]}'")

    skill_names = (general, *(str(v) for v in skills.values()))
    oversight = parse_oversight(desk, skill_names, tuple(grade_hours))
    teams = ((settings.get("calendar") or {}).get("teams") or {}) if isinstance(settings.get("calendar"), Mapping) else {}
    return DeskSettings(
        first_response_seconds=first,
        skills={str(k): str(v) for k, v in skills.items()},
        general_skill=general,
        overflow_after_seconds=_number(desk.get("overflow_after_seconds", 300), "desk.overflow_after_seconds"),
        priority=priority,
        grade_hours=grade_hours,
        warn_at=warn_at,
        canned=canned_list,
        calendar_teams=[str(t) for t in teams],
        average_handle_seconds=_number(
            desk.get("average_handle_seconds", DEFAULT_AVERAGE_HANDLE_SECONDS), "desk.average_handle_seconds", 1
        ),
        default_capacity=int(_number(desk.get("default_capacity", DEFAULT_CAPACITY), "desk.default_capacity", 1)),
        session_hours=_number(desk.get("session_hours", DEFAULT_SESSION_HOURS), "desk.session_hours", 0.01),
        api_token_days=_number(desk.get("api_token_days", DEFAULT_API_TOKEN_DAYS), "desk.api_token_days", 0.001),
        rasa_timeout_seconds=_number(
            desk.get("rasa_timeout_seconds", DEFAULT_RASA_TIMEOUT_SECONDS), "desk.rasa_timeout_seconds", 1
        ),
        abandon_after_minutes=_number(
            desk.get("abandon_after_minutes", DEFAULT_ABANDON_AFTER_MINUTES), "desk.abandon_after_minutes", 1
        ),
        repeat_complaint_days=_number(
            desk.get("repeat_complaint_days", DEFAULT_REPEAT_COMPLAINT_DAYS), "desk.repeat_complaint_days", 1
        ),
        **_reports(settings.get("reports") or {}),
        banned_phrases=banned,
        live_replies=live_replies,
        oversight=oversight,
        raw=settings,
    )


def _reports(section: Any) -> Dict[str, Any]:
    """The `reports` section: the spreadsheet's language and the dashboard's lights."""
    if not isinstance(section, Mapping):
        raise SettingsError("settings: section 'reports' must be a mapping")
    language = section.get("language", "zh")
    if language not in REPORT_LANGUAGES:
        raise SettingsError(f"settings: 'reports.language' must be one of {', '.join(REPORT_LANGUAGES)}, got {language!r}")
    lights = section.get("lights") or {}
    if not isinstance(lights, Mapping):
        raise SettingsError("settings: 'reports.lights' must map figure -> {green, yellow}")
    checked: Dict[str, Dict[str, Any]] = {}
    for name, light in lights.items():
        key = f"reports.lights.{name}"
        if not isinstance(light, Mapping):
            raise SettingsError(f"settings: '{key}' must be a mapping {{green, yellow}}")
        higher = light.get("higher_is_better", True)
        if not isinstance(higher, bool):
            raise SettingsError(f"settings: '{key}.higher_is_better' must be true or false")
        low = LIGHT_MINIMUM.get(str(name), 0)
        green, yellow = _number(light.get("green"), f"{key}.green", low), _number(light.get("yellow"), f"{key}.yellow", low)
        if (green < yellow) if higher else (green > yellow):
            raise SettingsError(f"settings: '{key}': green must be {'above' if higher else 'below'} yellow")
        checked[str(name)] = {"green": green, "yellow": yellow, "higher_is_better": higher}
    return {"report_language": language, "lights": checked}
def _live_compliance(settings: Mapping[str, Any]) -> Tuple[Tuple[str, ...], str]:
    """The banned phrases (`compliance.banned_phrases`) and what to do with a live reply holding one
    (`compliance.live_replies`: refuse or warn)."""
    section = settings.get("compliance") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("settings: section 'compliance' must be a mapping")
    phrases = section.get("banned_phrases") or []
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise SettingsError("settings: 'compliance.banned_phrases' must be a list of non-empty strings")
    mode = section.get("live_replies", LIVE_REPLIES_REFUSE)
    if mode not in (LIVE_REPLIES_REFUSE, LIVE_REPLIES_WARN):
        raise SettingsError(
            f"settings: 'compliance.live_replies' must be {LIVE_REPLIES_REFUSE} or {LIVE_REPLIES_WARN}, got {mode!r}"
        )
    return tuple(phrases), str(mode)


def load(settings: Optional[Mapping[str, Any]] = None) -> DeskSettings:
    """Validate the given settings, or load and validate the settings file."""
    return validate(settings if settings is not None else load_settings())


def database_url() -> str:
    """Return `DATABASE_URL`, or the SQLite file `var/desk.db`."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{var_dir() / 'desk.db'}"


def desk_secret() -> str:
    """Return the shared secret of the internal API (`FRONTLINE_DESK_SECRET`), empty when unset."""
    return os.environ.get("FRONTLINE_DESK_SECRET", "")


def rasa_url() -> str:
    """Return Rasa's base URL (`FRONTLINE_RASA_URL`)."""
    return os.environ.get("FRONTLINE_RASA_URL", "http://127.0.0.1:5005").rstrip("/")


def rasa_token() -> str:
    """Return Rasa's API token (`RASA_TOKEN`), empty when unset."""
    return os.environ.get("RASA_TOKEN", "")


def desk_port() -> int:
    """Return the port of the desk (`FRONTLINE_DESK_PORT`, 5006)."""
    return int(os.environ.get("FRONTLINE_DESK_PORT", "5006"))


def broker_url() -> Optional[str]:
    """Return where Rasa's event broker is: `amqp://…` (RabbitMQ), `sqlite:///…` or `postgresql://…` (SQL).

    In order: `FRONTLINE_BROKER` (`none` switches the consumer off); the `event_broker` of the endpoints file
    (`FRONTLINE_ENDPOINTS`, else `endpoints.yml` at the repo root), where an SQLite broker file is
    `FRONTLINE_EVENTS_DB` when set (as `make run` sets it) and a relative `var/…` path lives in `FRONTLINE_VAR`;
    with no endpoints file, `FRONTLINE_EVENTS_DB` or `var/events.db`.
    """
    env = os.environ.get("FRONTLINE_BROKER", "").strip()
    if env:
        return None if env.lower() == "none" else env
    found, url = _broker_from_endpoints(_endpoints_path())
    if found:
        return url
    events_db = os.environ.get("FRONTLINE_EVENTS_DB", "").strip()
    return f"sqlite:///{events_db or var_dir() / 'events.db'}"


def _expand(value: Any) -> str:
    return os.path.expandvars(str(value)) if value is not None else ""


def _endpoints_section(path: pathlib.Path, key: str) -> Optional[Dict[str, Any]]:
    """One section of an endpoints file (`event_broker`, `tracker_store`), or None."""
    if not path.exists():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        logger.error("%s is not valid YAML; using the default %s", path.name, key)
        return None
    section = data.get(key) if isinstance(data, dict) else None
    return section if isinstance(section, dict) else None


def _sql_url(section: Mapping[str, Any], default_db: str, override_env: Optional[str] = None) -> str:
    """The SQLAlchemy URL of an SQL section of an endpoints file (Rasa's keys: dialect, url/host, port, db,
    username, password). An SQLite file is the variable `override_env` when set; a relative `var/…` path lives
    in `FRONTLINE_VAR`."""
    dialect = _expand(section.get("dialect") or "sqlite")
    db = _expand(section.get("db") or default_db)
    if dialect == "sqlite":
        override = os.environ.get(override_env, "").strip() if override_env else ""
        db_path = pathlib.Path(override or db)
        if not db_path.is_absolute():
            parts = db_path.parts
            db_path = var_dir().joinpath(*parts[1:]) if parts and parts[0] == "var" else repo_root() / db_path
        return f"sqlite:///{db_path}"
    host = _expand(section.get("url") or section.get("host") or "localhost")
    if "://" in host:
        return host
    port = _expand(section.get("port") or "")
    user = _expand(section.get("username") or "")
    password = _expand(section.get("password") or "")
    auth = f"{user}:{password}@" if user else ""
    scheme = "postgresql" if dialect.startswith("postgres") else dialect
    return f"{scheme}://{auth}{host}{':' + port if port else ''}/{db}"


def _endpoints_path() -> pathlib.Path:
    name = os.environ.get("FRONTLINE_ENDPOINTS", "").strip() or "endpoints.yml"
    return pathlib.Path(name) if pathlib.Path(name).is_absolute() else repo_root() / name


def tracker_store_url() -> Optional[str]:
    """Where Rasa's SQL tracker store is (for the maintenance commands): the `tracker_store` of the endpoints file
    (`FRONTLINE_ENDPOINTS`, else `endpoints.yml`), an SQLite file in `FRONTLINE_VAR` when relative; None when
    the tracker store is not an SQL one."""
    section = _endpoints_section(_endpoints_path(), "tracker_store")
    if section is None:
        return None
    kind = str(section.get("type") or "").lower()
    if kind not in ("sql", "bot.stores.tunedsqltrackerstore"):
        return None
    return _sql_url(section, "rasa.db")


def _broker_from_endpoints(path: pathlib.Path) -> tuple[bool, Optional[str]]:
    """Translate the `event_broker` section of an endpoints file: (found a section?, broker URL or None)."""
    broker = _endpoints_section(path, "event_broker")
    if broker is None:
        return False, None
    kind = str(broker.get("type") or "pika").lower()
    if kind in ("sql", "bot.stores.tunedsqleventbroker"):
        return True, _sql_url(broker, "events.db", "FRONTLINE_EVENTS_DB")
    if kind in ("pika", "bot.pika_broker.confirmedpikabroker"):
        base = amqp_url(
            _expand(broker.get("url") or "localhost"), _expand(broker.get("port") or 5672),
            _expand(broker.get("username") or "guest"), _expand(broker.get("password") or "guest"),
        )
        queues = broker.get("queues") or ["rasa_core_events"]
        queue = queues[0] if isinstance(queues, list) else str(queues)
        drains = broker.get("drain_queues") or []
        drains = drains if isinstance(drains, list) else [drains]
        sep = "&" if "?" in base else "?"
        query = urlencode([("queue", str(queue)), *(("drain", str(name)) for name in drains)])
        return True, f"{base}{sep}{query}"
    logger.error("event broker type %r is not supported by the desk; consumer off", kind)
    return True, None
