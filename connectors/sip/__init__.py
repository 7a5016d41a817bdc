"""SIP connector: PBX call state (RFC 4235 dialog events) and click-to-call (3PCC + REFER)."""

from connectors.sip.config import SipConfig
from connectors.sip.connector import SipConnector

__all__ = ["SipConfig", "SipConnector"]
