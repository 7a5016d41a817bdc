"""Phone presence and missed-call messages end to end on ejabberd: Kamailio + baresip ->
SAMTEK -> ejabberd, the tests of tests/telephony/test_phone_presence_e2e.py unchanged."""

from __future__ import annotations

from tests.telephony.test_phone_presence_e2e import (
    sip_peer,
    test_contact_sees_call_and_own_presence_after,
    test_one_missed_call_message_also_after_restart,
    test_restart_of_samtek_mid_call,
)

__all__ = [
    "sip_peer",
    "test_contact_sees_call_and_own_presence_after",
    "test_one_missed_call_message_also_after_restart",
    "test_restart_of_samtek_mid_call",
]
