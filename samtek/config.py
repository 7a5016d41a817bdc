"""The service's one config file (TOML), validated before anything starts.

Every error names the file, the dotted key and what was expected, and all errors are reported
at once. Connector sections are validated by the connector's own model, found by `type`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bridges.assistant.config import AssistantSection
from bridges.rooms.settings import RoomsSection
from bridges.switchboard.settings import SwitchboardSection
from samtek.admin.config import AdminSection
from samtek.model import CalendarRef, Person, calendar_address
from samtek.plugin import Connector, ConnectorConfig
from samtek.runtime.leases import ClusterSection
from samtek.secrets import Secret
from samtek.web import HttpSection

Language = Literal["nb", "nn", "en"]
_JID = re.compile(r"^[^@/\s\"&'/:<>]+@[A-Za-z0-9.-]+$")


def _valid_jid(value: str) -> str:
    if not _JID.match(value):
        raise ValueError(f"{value!r} is not a bare JID like 'kari@kommune.no'")
    return value.lower()


def _valid_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. 'Europe/Oslo')") from None
    return value


BareJid = Annotated[str, AfterValidator(_valid_jid)]
TimeZoneName = Annotated[str, AfterValidator(_valid_timezone)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSection(_Section):
    name: str = "samtek"
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class XmppSection(_Section):
    domain: str
    component_jid: str
    component_secret: Secret
    host: str = "127.0.0.1"
    port: int = Field(5347, ge=1, le=65535)


class StoreSection(_Section):
    url: str = "sqlite:///var/lib/samtek/state.db"
    # Claims that a reminder, missed-call or out-of-office notice was sent (they name the
    # people involved). At least 2 days: out-of-office replies are claimed per day.
    notification_retention_days: int = Field(30, ge=2, le=3650)


class PresenceSection(_Section):
    window_back_hours: int = Field(24, ge=1, le=24 * 31)
    window_ahead_days: int = Field(14, ge=1, le=366)
    overlay_grace_seconds: float = Field(2.0, ge=0, le=60)
    # Transitions this far ahead are scheduled on the XMPP server, which applies them at the
    # exact instant by itself (0 = off: every transition is sent at its boundary).
    schedule_ahead_hours: float = Field(4.0, ge=0, le=24)


class MunicipalitySection(_Section):
    id: str
    name: str
    calendar: str | None = None  # default calendar connector for its people
    # The default calendar's address for people from a directory: {email}, {id} or {jid}.
    calendar_address: str = "{email}"
    language: Language = "nb"
    timezone: TimeZoneName = "Europe/Oslo"
    # Do-not-disturb between phone and chat (deploy/telephony.md): DND on the phone shows in
    # chat; a dnd picked by hand in chat switches the phone's DND (needs mod_samtek_dnd).
    dnd_sync: Literal["off", "phone_to_chat", "chat_to_phone", "both"] = "phone_to_chat"


class CalendarRefSection(_Section):
    source: str | None = None  # defaults to the municipality's calendar connector
    address: Annotated[str, AfterValidator(calendar_address)]


class PersonSection(_Section):
    id: str
    jid: BareJid
    name: str
    municipality: str
    language: Language | None = None
    timezone: TimeZoneName | None = None
    email: str | None = None
    aliases: list[str] = []  # other addresses calendars may invite the person by
    calendars: list[CalendarRefSection] = []
    phones: list[str] = []
    show_subject: bool = False
    oof_autoreply: bool = False
    department: str | None = None
    title: str | None = None


class ConfigFile(_Section):
    service: ServiceSection = ServiceSection()
    xmpp: XmppSection
    store: StoreSection = StoreSection()
    presence: PresenceSection = PresenceSection()
    http: HttpSection = HttpSection()
    cluster: ClusterSection = ClusterSection()
    admin: AdminSection = AdminSection()
    assistant: AssistantSection = AssistantSection()
    municipalities: list[MunicipalitySection] = []
    people: list[PersonSection] = []
    connectors: dict[str, dict[str, Any]] = {}
    rooms: RoomsSection | None = None
    switchboard: SwitchboardSection | None = None


class Config:
    """The validated config: sections plus typed connector configs and the people."""

    def __init__(
        self,
        path: Path,
        file: ConfigFile,
        connectors: dict[str, ConnectorConfig],
        people: dict[str, Person],
    ) -> None:
        self.path = path
        self.file = file
        self.connectors = connectors
        self.people = people

    @property
    def xmpp(self) -> XmppSection:
        return self.file.xmpp

    @property
    def store(self) -> StoreSection:
        return self.file.store

    @property
    def presence(self) -> PresenceSection:
        return self.file.presence


class ConfigError(Exception):
    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__("\n".join(f"{path}: {e}" for e in errors))


def load_config(path: Path, connector_types: Mapping[str, type[Connector]]) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None

    errors: list[str] = []
    try:
        file = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        errors += _describe(exc, ConfigFile, prefix=())
        file = None
    connectors = _validate_connectors(raw.get("connectors", {}), connector_types, errors)
    people: dict[str, Person] = {}
    if file is not None:
        people = _build_people(file, connectors, errors)
    if errors or file is None:
        raise ConfigError(path, errors)
    return Config(path, file, connectors, people)


def _validate_connectors(
    raw: object, types: Mapping[str, type[Connector]], errors: list[str]
) -> dict[str, ConnectorConfig]:
    result: dict[str, ConnectorConfig] = {}
    if not isinstance(raw, dict):
        return result
    for name, section in raw.items():
        where = ("connectors", name)
        if not isinstance(section, dict):
            errors.append(f"{_dotted(where)}: expected a table")
            continue
        kind = section.get("type")
        if not isinstance(kind, str) or kind not in types:
            known = ", ".join(sorted(types)) or "none installed"
            errors.append(f"{_dotted((*where, 'type'))}: unknown connector type {kind!r} ({known})")
            continue
        model = types[kind].config_model
        try:
            result[name] = model.model_validate(section)
        except ValidationError as exc:
            errors += _describe(exc, model, prefix=where)
    return result


def _build_people(
    file: ConfigFile, connectors: Mapping[str, ConnectorConfig], errors: list[str]
) -> dict[str, Person]:
    municipalities = {m.id: m for m in file.municipalities}
    people: dict[str, Person] = {}
    for index, p in enumerate(file.people):
        where = f"people[{index}]"
        municipality = municipalities.get(p.municipality)
        if municipality is None:
            errors.append(f"{where}.municipality: unknown municipality {p.municipality!r}")
            continue
        if p.id in people:
            errors.append(f"{where}.id: duplicate person id {p.id!r}")
        refs = []
        for c_index, c in enumerate(p.calendars):
            source = c.source or municipality.calendar
            if source is None or source not in connectors:
                errors.append(
                    f"{where}.calendars[{c_index}].source: no calendar connector {source!r}"
                    " (declare it under [connectors] or set the municipality's calendar)"
                )
                continue
            refs.append(CalendarRef(source, c.address))
        people[p.id] = Person(
            id=p.id,
            jid=p.jid,
            name=p.name,
            municipality=p.municipality,
            language=p.language or municipality.language,
            timezone=p.timezone or municipality.timezone,
            email=p.email,
            aliases=tuple(p.aliases),
            calendars=tuple(refs),
            phones=tuple(p.phones),
            show_subject=p.show_subject,
            oof_autoreply=p.oof_autoreply,
            department=p.department,
            title=p.title,
        )
    return people


def _describe(
    exc: ValidationError, model: type[BaseModel], prefix: tuple[object, ...]
) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = (*prefix, *error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{_dotted(loc)}: unknown key{_suggest(model, error['loc'])}")
        elif error["type"] == "missing":
            lines.append(f"{_dotted(loc)}: required key is missing")
        else:
            lines.append(f"{_dotted(loc)}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def _suggest(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """'did you mean …' for a misspelled key, looked up in the model that rejected it."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        annotation = field.annotation if field else None
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if current is None:
            return ""
    if not hasattr(current, "model_fields"):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(current.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(loc: tuple[object, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
