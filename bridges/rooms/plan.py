"""Desired room state vs what the server has: a plan of typed, printable items. Pure code.

SAMTEK owns the whole room configuration: every field of the owner form that the spec does not
set is reset to the managed default below (a room pre-created by someone else keeps no password,
no `whois = anyone`, ...). A room SAMTEK did not create (the component is not among its owners)
is taken over and reported.

Lifecycle by date (in the service's timezone): before `start` nothing is done; from `end`+1
the room is archived (closed: a notice is posted, the room becomes moderated and only owners
keep their affiliation — the history stays on the server); after `retention_days` more it is
destroyed, but a room with history only if the spec says destroy_history_on_retention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from bridges.rooms.spec import Room
from bridges.rooms.texts import text
from samtek.xmpp.muc import FormValue

F_NAME = "muc#roomconfig_roomname"
F_DESC = "muc#roomconfig_roomdesc"
F_LANG = "muc#roomconfig_lang"
F_PERSISTENT = "muc#roomconfig_persistentroom"
F_MEMBERS_ONLY = "muc#roomconfig_membersonly"
F_PUBLIC = "muc#roomconfig_publicroom"
F_ARCHIVING = "muc#roomconfig_enablearchiving"
F_MODERATED = "muc#roomconfig_moderatedroom"
F_SECRET = "muc#roomconfig_roomsecret"
F_WHOIS = "muc#roomconfig_whois"
F_CHANGE_SUBJECT = "muc#roomconfig_changesubject"
F_MEMBER_INVITES = "{http://prosody.im/protocol/muc}roomconfig_allowmemberinvites"
F_HISTORY = "muc#roomconfig_historylength"
F_DEFAULT_HISTORY = "muc#roomconfig_defaulthistorymessages"
F_PRESENCE_BROADCAST = "muc#roomconfig_presencebroadcast"
F_PASSWORD_PROTECTED = "muc#roomconfig_passwordprotectedroom"  # XEP-0045; not in Prosody 0.12
# ejabberd 23.01's names for archiving and member invitations (it has no history fields: its
# history length is the mod_muc option history_size)
F_MAM = "mam"
F_ALLOW_INVITES = "muc#roomconfig_allowinvites"

# Every other field of a project room, as SAMTEK creates it (Prosody 0.12's defaults for a new
# room, and no password). Server-neutral: each server's form offers only its own names of
# these, and a field the server does not offer is neither sent nor compared. Keep
# max_history_messages unset or >= 20 in Prosody: it caps the history fields the form shows,
# which would then never match.
MANAGED_DEFAULTS: dict[str, FormValue] = {
    F_PERSISTENT: "1",
    F_MEMBERS_ONLY: "1",
    F_ARCHIVING: "1",
    F_MAM: "1",
    F_SECRET: "",
    F_PASSWORD_PROTECTED: "0",
    F_WHOIS: "moderators",
    F_CHANGE_SUBJECT: "0",
    F_MEMBER_INVITES: "0",
    F_ALLOW_INVITES: "0",
    F_HISTORY: "20",
    F_DEFAULT_HISTORY: "20",
    F_PRESENCE_BROADCAST: ["moderator", "participant", "visitor"],
}
BOOLEAN_FIELDS = {
    F_PERSISTENT,
    F_MEMBERS_ONLY,
    F_PUBLIC,
    F_ARCHIVING,
    F_MAM,
    F_MODERATED,
    F_PASSWORD_PROTECTED,
    F_CHANGE_SUBJECT,
    F_MEMBER_INVITES,
    F_ALLOW_INVITES,
}
SECRET_FIELDS = {F_SECRET}  # never printed: a squatter's room password is still a password


class Phase(StrEnum):
    PENDING = "pending"  # before the start date: nothing exists yet
    ACTIVE = "active"
    ARCHIVED = "archived"
    EXPIRED = "expired"  # retention over: destroy (if allowed)


def phase_of(room: Room, today: date, retention_days: int) -> Phase:
    spec = room.spec
    if spec.start and today < spec.start:
        return Phase.PENDING
    if spec.end and today > spec.end:
        if today > spec.end + timedelta(days=retention_days):
            return Phase.EXPIRED
        return Phase.ARCHIVED
    return Phase.ACTIVE


@dataclass(frozen=True, slots=True)
class Observed:
    """One room as the server has it; `exists=False` for an absent or destroyed room."""

    exists: bool
    config: Mapping[str, FormValue] = field(default_factory=dict)
    affiliations: Mapping[str, str] = field(default_factory=dict)  # bare JID -> affiliation
    has_history: bool | None = None  # only looked up for expired rooms


# -- plan items -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateRoom:
    room: str
    config: Mapping[str, FormValue]

    def describe(self) -> str:
        return f"+ create {self.room}"


@dataclass(frozen=True, slots=True)
class Reconfigure:
    room: str
    changes: tuple[tuple[str, FormValue, FormValue], ...]  # field, old, new

    def describe(self) -> str:
        parts = [
            f"{f.split('#')[-1]}: {_shown(f, old)} -> {_shown(f, new)}"
            for f, old, new in self.changes
        ]
        return f"~ configure {self.room}: " + ", ".join(parts)


def _shown(field_name: str, value: FormValue) -> str:
    if field_name in SECRET_FIELDS:
        return "(set)" if value else "(none)"
    return repr(value)


@dataclass(frozen=True, slots=True)
class TakeOver:
    """A room SAMTEK did not create: become its owner, clear the subject, report it.

    The Reconfigure and SetAffiliation items of the same plan reset everything else.
    """

    room: str
    owners: tuple[str, ...]  # the owners it had

    def describe(self) -> str:
        by = ", ".join(self.owners) or "unknown"
        return f"! take over {self.room}: not created by SAMTEK (owners: {by})"


@dataclass(frozen=True, slots=True)
class SetAffiliation:
    room: str
    jid: str
    old: str
    new: str  # "none" removes

    def describe(self) -> str:
        sign = "-" if self.new == "none" else ("+" if self.old == "none" else "~")
        return f"{sign} {self.room}: {self.jid} {self.old} -> {self.new}"


@dataclass(frozen=True, slots=True)
class Invite:
    room: str
    jid: str
    name: str
    video: bool = True
    language: str = "nb"  # the room's: used for members the directory does not know

    def describe(self) -> str:
        return f"> invite {self.jid} to {self.room} (direct invitation + bookmark)"


@dataclass(frozen=True, slots=True)
class ArchiveNotice:
    room: str
    text: str

    def describe(self) -> str:
        return f"# archive {self.room}: post notice, close to members"


@dataclass(frozen=True, slots=True)
class Destroy:
    room: str
    reason: str

    def describe(self) -> str:
        return f"x destroy {self.room} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Note:
    """Information only (nothing is written): drift left alone, history kept, ..."""

    room: str
    text: str

    def describe(self) -> str:
        return f"  note {self.room}: {self.text}"


Action = CreateRoom | TakeOver | Reconfigure | SetAffiliation | Invite | ArchiveNotice | Destroy
Item = Action | Note


@dataclass(frozen=True, slots=True)
class Plan:
    items: tuple[Item, ...]

    @property
    def actions(self) -> list[Action]:
        return [i for i in self.items if not isinstance(i, Note)]

    @property
    def empty(self) -> bool:
        return not self.actions

    def render(self) -> str:
        if not self.items:
            return "no changes"
        lines = [item.describe() for item in self.items]
        lines.append(f"{len(self.actions)} change(s)" if self.actions else "no changes")
        return "\n".join(lines)


# -- desired state ------------------------------------------------------------------------------
def desired_config(room: Room, phase: Phase) -> dict[str, FormValue]:
    spec = room.spec
    return {
        **MANAGED_DEFAULTS,
        F_NAME: spec.name,
        F_DESC: spec.description,
        F_LANG: spec.language,
        F_PUBLIC: "1" if spec.public else "0",
        F_MODERATED: "1" if phase is Phase.ARCHIVED else "0",
    }


def desired_affiliations(room: Room, phase: Phase) -> dict[str, str]:
    wanted = {jid: "owner" for jid in room.owners}
    if phase is Phase.ACTIVE:
        wanted |= {jid: "member" for jid in room.members}
    return wanted


def _same(field_name: str, a: FormValue | None, b: FormValue) -> bool:
    if field_name in BOOLEAN_FIELDS:
        return _truthy(a) == _truthy(b)
    if isinstance(b, list):
        return isinstance(a, list) and sorted(a) == sorted(b)
    return (a or "") == b


def _truthy(value: FormValue | None) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("1", "true")


def plan_room(room: Room, observed: Observed, phase: Phase, component_jid: str) -> list[Item]:
    if phase is Phase.PENDING:
        return (
            []
            if not observed.exists
            else [Note(room.jid, f"exists before its start {room.spec.start}")]
        )
    if phase is Phase.EXPIRED:
        if not observed.exists:
            return []
        if room.spec.destroy_history_on_retention:
            return [Destroy(room.jid, "retention over")]
        if observed.has_history is False:
            return [Destroy(room.jid, "retention over, no history")]
        return [
            Note(
                room.jid,
                "retention over, kept: it has history (destroy_history_on_retention = false)",
            )
        ]

    if phase is Phase.ARCHIVED and not observed.exists:
        # a room archived from birth helps nobody: say why nothing is made
        return [Note(room.jid, f"not created: its end date {room.spec.end} has passed")]
    config = desired_config(room, phase)
    wanted = desired_affiliations(room, phase)
    if not observed.exists:
        items: list[Item] = [CreateRoom(room.jid, config)]
        for jid, affiliation in sorted(wanted.items()):
            items.append(SetAffiliation(room.jid, jid, "none", affiliation))
        if phase is Phase.ACTIVE:
            items += [_invite(room, jid) for jid in sorted(wanted)]
        return items

    # Only fields the server's form offers (another server, or Prosody without muc_mam, lacks
    # some); fields it offers that SAMTEK does not know are reported, never guessed.
    changes = tuple(
        (name, observed.config[name], value)
        for name, value in config.items()
        if name in observed.config and not _same(name, observed.config[name], value)
    )
    unknown = sorted(set(observed.config) - set(config))
    ours = observed.affiliations.get(component_jid) == "owner"
    have = {j: a for j, a in observed.affiliations.items() if j != component_jid}
    affiliation_items: list[Item] = []
    invites: list[Item] = []
    for jid in sorted(set(have) | set(wanted)):
        old, new = have.get(jid, "none"), wanted.get(jid, "none")
        if old != new:
            affiliation_items.append(SetAffiliation(room.jid, jid, old, new))
            if old == "none" and phase is Phase.ACTIVE:
                invites.append(_invite(room, jid))

    notes: list[Item] = []
    if unknown:
        notes.append(Note(room.jid, f"config fields SAMTEK does not manage: {', '.join(unknown)}"))
    owners = tuple(sorted(j for j, a in have.items() if a == "owner"))
    if room.spec.unmanaged:
        drift = [c[0] for c in changes] + [
            i.jid for i in affiliation_items if isinstance(i, SetAffiliation)
        ]
        if not ours:
            notes.append(Note(room.jid, f"not created by SAMTEK (owners: {', '.join(owners)})"))
        if drift:
            notes.append(Note(room.jid, f"unmanaged; drift left alone: {', '.join(drift)}"))
        return notes

    items = notes
    archiving = phase is Phase.ARCHIVED and not _truthy(observed.config.get(F_MODERATED))
    if archiving:
        items.append(ArchiveNotice(room.jid, text(room.spec.language, "archived")))
    if changes:
        items.append(Reconfigure(room.jid, changes))
    if not ours:  # after Reconfigure: the component cannot enter while a password is set
        items.append(TakeOver(room.jid, owners))
    return items + affiliation_items + invites


def _invite(room: Room, jid: str) -> Invite:
    return Invite(room.jid, jid, room.spec.name, room.spec.video.enabled, room.spec.language)


def make_plan(
    rooms: Sequence[Room],
    observed: Mapping[str, Observed],
    phases: Mapping[str, Phase],
    component_jid: str,
) -> Plan:
    items: list[Item] = []
    for room in rooms:
        items += plan_room(room, observed[room.jid], phases[room.jid], component_jid)
    return Plan(tuple(items))
