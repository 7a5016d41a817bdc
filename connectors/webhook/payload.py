"""The JSON a cloud PBX posts: one call event or one device state change per request."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from samtek.telephony import CallDirection, CallState, DeviceState

_Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: _Text  # unique per event: repeated ids are refused as replays
    extension: Annotated[str, Field(min_length=1, max_length=64)]
    at: AwareDatetime


class CallPayload(_Payload):
    event: Literal["call"]
    call_id: _Text
    direction: CallDirection
    state: CallState
    remote_number: Annotated[str, Field(max_length=64)] = ""
    remote_name: Annotated[str, Field(max_length=200)] | None = None


class DevicePayload(_Payload):
    event: Literal["device_state"]
    state: DeviceState


Payload = Annotated[CallPayload | DevicePayload, Field(discriminator="event")]
PAYLOAD: TypeAdapter[CallPayload | DevicePayload] = TypeAdapter(Payload)
