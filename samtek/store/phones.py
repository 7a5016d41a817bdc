"""Last known non-idle device state per phone, so phone presence survives a restart.

Only busy states are kept (idle deletes the row): after a restart the PBX connector reports
every phone's current state again and corrects whatever was left here.
"""

from __future__ import annotations

from datetime import datetime

from samtek.store.database import Database
from samtek.telephony import DeviceState, DeviceStateUpdate

_KEPT = {DeviceState.RINGING, DeviceState.IN_USE, DeviceState.DND}


class PhoneStates:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, update: DeviceStateUpdate) -> None:
        if update.state not in _KEPT:
            await self._db.execute(
                "DELETE FROM phone_states WHERE source = ? AND extension = ?",
                (update.source, update.extension),
            )
            return
        await self._db.execute(
            "INSERT INTO phone_states (source, extension, state, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (source, extension) DO UPDATE SET state = excluded.state,"
            " at = excluded.at",
            (update.source, update.extension, update.state.value, update.at.isoformat()),
        )

    async def load(self) -> list[DeviceStateUpdate]:
        rows = await self._db.fetch("SELECT source, extension, state, at FROM phone_states")
        return [
            DeviceStateUpdate(source, ext, DeviceState(state), datetime.fromisoformat(at))
            for source, ext, state, at in rows
        ]
