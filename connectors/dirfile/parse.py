"""People files: CSV (one person a row) or TOML ([[people]] tables and a [groups] table).

CSV columns: id, jid, name, municipality, email, language, phones, groups, aliases; `phones`,
`groups` and `aliases` (other e-mail addresses) hold several values separated by ";". Rows
that fail validation are reported by line and skipped; the rest of the file is still served.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from samtek.events import DirectoryPerson


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    jid: str | None = None
    name: str = Field(min_length=1)
    municipality: str = Field(min_length=1)
    email: str | None = None
    language: Literal["nb", "nn", "en"] | None = None
    phones: list[str] = []
    groups: list[str] = []
    aliases: list[str] = []

    @field_validator("phones", "groups", "aliases", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator("jid", "email", "language", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@dataclass
class Parsed:
    people: list[DirectoryPerson] = field(default_factory=list)
    groups: dict[str, set[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # where -> why


def parse(text: str, kind: Literal["csv", "toml"], jid_template: str | None) -> Parsed:
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text))
        # Line numbers as a spreadsheet shows them: the header is line 1.
        rows = [(f"line {n}", dict(r)) for n, r in enumerate(reader, start=2)]
        extra_groups: dict[str, Any] = {}
    else:
        data = tomllib.loads(text)
        rows = [(f"people[{n}]", r) for n, r in enumerate(data.get("people", []))]
        extra_groups = data.get("groups", {})
    result = Parsed()
    for where, raw in rows:
        try:
            row = Row.model_validate({k: v for k, v in raw.items() if k is not None and v != ""})
            jid = row.jid or _render(jid_template, row)
        except (ValidationError, ValueError) as exc:
            result.errors[where] = _reason(exc)
            continue
        result.people.append(
            DirectoryPerson(
                id=row.id,
                jid=jid.lower(),
                name=row.name,
                municipality=row.municipality,
                email=row.email,
                language=row.language,
                phones=tuple(row.phones),
                aliases=tuple(row.aliases),
            )
        )
        for group in row.groups:
            result.groups.setdefault(group, set()).add(row.id)
    for name, members in extra_groups.items():
        if not isinstance(members, list):
            result.errors[f"groups.{name}"] = "expected a list of person ids"
            continue
        result.groups.setdefault(str(name), set()).update(str(m) for m in members)
    return result


def _render(template: str | None, row: Row) -> str:
    if template is None:
        raise ValueError("no jid and no jid_template")
    try:
        return template.format(id=row.id, email=row.email or "")
    except (KeyError, IndexError) as exc:
        raise ValueError(f"jid_template names unknown field {exc}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
    return str(exc)
