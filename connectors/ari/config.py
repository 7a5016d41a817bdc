"""Config section of the Asterisk ARI connector (`type: ari`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


class AriConfig(ConnectorConfig):
    type: Literal["ari"] = "ari"
    # ARI base URL as in ari.conf/http.conf, e.g. http://pbx.kommune.no:8088/ari
    url: str
    username: str
    password: Secret  # "env:NAME" or "file:/path"
    app: str = "samtek"  # Stasis application name the WebSocket registers
    technology: str = "PJSIP"  # channel technology of the phones: PJSIP/<extension>
    # Click-to-call: the caller's phone is rung, then continues in this dialplan context;
    # a transferred caller continues here at the target's extension.
    context: str = "from-internal"
    caller_id_name: str = "SAMTEK"
    originate_answer_timeout: int = Field(default=30, ge=5, le=300)
    # Do-not-disturb: "astdb" writes DB(<family>/<extension>) = YES, the convention the
    # dialplan checks (FreePBX and most hand-written dialplans); "none" refuses set_dnd.
    dnd: Literal["astdb", "none"] = "astdb"
    dnd_family: str = "DND"
    # Optional device state that mirrors DND, e.g. "Custom:DND{extension}" (FreePBX sets it
    # with the DND feature codes): DND switched on the phone is then seen at once, and
    # set_dnd sets it too (BUSY / NOT_INUSE), so BLF keys light up.
    dnd_device: str | None = Field(default=None, pattern=r"^[A-Za-z]+:[^,]*\{extension\}[^,]*$")
    request_timeout: float = Field(default=10.0, gt=0)
    heartbeat: float = Field(default=30.0, gt=0)  # WebSocket ping interval: finds dead links
    retry_initial: float = Field(default=1.0, gt=0)
    retry_max: float = Field(default=300.0, gt=0)
    directory_poll: float = Field(default=60.0, gt=0)  # subscribe new people's phones
