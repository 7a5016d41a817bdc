"""The connector contract: what a plugin implements and what the runtime gives it.

A connector is found through the `samtek.connectors` entry-point group, validated with its
own pydantic config model before anything starts, and then run under the supervisor:
`run()` works until cancelled; raising makes the supervisor restart it with backoff
(raise `AuthFailed` to stop retrying until the credentials are fixed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.served import Served

if TYPE_CHECKING:
    from samtek.store import Store
    from samtek.web import WebServer

ENTRY_POINT_GROUP = "samtek.connectors"


class AuthFailed(Exception):
    """Credentials were refused: retrying will not help until an admin fixes them."""


class ConnectorConfig(BaseModel):
    """Base of every connector's config section; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str


class Directory(ABC):
    """The people SAMTEK serves (from the config file, LDAP, ...)."""

    @abstractmethod
    def people(self) -> Mapping[str, Person]: ...

    def person(self, person_id: str) -> Person | None:
        return self.people().get(person_id)

    def by_jid(self, jid: str) -> Person | None:
        bare = jid.split("/", 1)[0].lower()
        return next((p for p in self.people().values() if p.jid.lower() == bare), None)

    def served_by(self, source: str) -> list[tuple[Person, str]]:
        """(person, address) for every calendar of a person that `source` serves."""
        return [
            (person, ref.address)
            for person in self.people().values()
            for ref in person.calendars
            if ref.source == source
        ]


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector may use. It never sees the XMPP side."""

    name: str
    directory: Directory
    bus: Bus
    health: HealthReporter
    store: Store
    # The service's HTTP server, for connectors that receive callbacks (webhooks); routes
    # must be mounted in the connector's __init__, before the server starts.
    web: WebServer | None = None
    clock: Clock = SYSTEM_CLOCK  # the service's one "now" (samtek/clock.py)
    # This instance's share of the directory and its change signal (samtek/served.py);
    # default: everything in `directory`, never changing.
    served: Served = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.served is None:
            object.__setattr__(self, "served", Served(self.directory))


class Connector(ABC):
    config_model: ClassVar[type[ConnectorConfig]]

    def __init__(self, config: ConnectorConfig, ctx: ConnectorContext) -> None:
        self.config = config
        self.ctx = ctx

    @property
    def name(self) -> str:
        return self.ctx.name

    @abstractmethod
    async def run(self) -> None:
        """Work until cancelled. Raise to be restarted with backoff."""


def discover_connectors() -> dict[str, type[Connector]]:
    """Connector classes by their `type` name, from installed entry points."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a Connector class")
        found[ep.name] = cls
    return found
