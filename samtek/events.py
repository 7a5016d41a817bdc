"""Events that connectors publish on the bus and bridges consume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from samtek.model import CalendarEvent, OutOfOffice, PresenceClaim, Show, TimeWindow


@dataclass(frozen=True, slots=True)
class CalendarUpdate:
    """The complete set of a person's events within `window`, as one source sees it now.

    Complete, not a delta: a consumer replaces what it had for (source, person, window),
    so a moved or cancelled event disappears without a separate message.
    """

    source: str
    person_id: str
    window: TimeWindow
    events: tuple[CalendarEvent, ...]


@dataclass(frozen=True, slots=True)
class OutOfOfficeUpdate:
    source: str
    person_id: str
    oof: OutOfOffice


@dataclass(frozen=True, slots=True)
class PresenceClaimsUpdate:
    """Every claim one source makes about a person now (complete, not a delta: an empty
    tuple withdraws them), for sources that speak in claims directly (Teams presence)."""

    source: str
    person_id: str
    claims: tuple[PresenceClaim, ...]


@dataclass(frozen=True, slots=True)
class ManualPresenceChange:
    """A user changed their status by hand while an overlay was shown (reported by the server)."""

    jid: str
    show: Show
    status: str | None
    dismissed_transition: str


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """One person as a directory source sees them; the municipality fills in what is missing."""

    id: str
    jid: str
    name: str
    municipality: str
    email: str | None = None
    language: str | None = None  # nb/nn/en; None: the municipality's language
    phones: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other e-mail addresses (invitations may use any of them)
    department: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryUpdate:
    """Everything one directory source knows now (complete, not a delta).

    `groups` maps a group name to the ids of its member people; the directory service resolves
    them to JIDs. A source that publishes an empty update withdraws all its people.
    """

    source: str
    people: tuple[DirectoryPerson, ...]
    groups: Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class PeopleChanged:
    """The merged directory changed: which person ids and group names are affected."""

    added: frozenset[str]
    removed: frozenset[str]
    changed: frozenset[str]
    groups: frozenset[str]
