"""The presence-overlay protocol tests of tests/overlay/, unchanged, against ejabberd 23.01
with deploy/ejabberd/mod_samtek_overlay.erl: the server side of the protocol is the same on
both servers, so SAMTEK above the XMPP link needs no server switch."""

from __future__ import annotations

from tests.overlay.test_overlay_module import (
    test_clear_restores_real_presence,
    test_component_reconnect_keeps_overlay_prosody_restart_drops_it,
    test_identical_reset_sends_nothing_new,
    test_last_resource_offline_keeps_overlay,
    test_list_returns_state,
    test_login_and_probe_during_overlay,
    test_malformed_set_is_rejected,
    test_manual_change_dismisses_overlay,
    test_muc_room_sees_overlay_and_its_end,
    test_one_off_directed_target_gets_what_she_sent_and_no_resends,
    test_resend_after_nick_change_goes_to_the_new_nick_only,
    test_set_overlays_contacts_but_not_own_resources,
    test_until_passes_restores_real_presence_without_clear,
    test_untrusted_sender_is_forbidden,
)

__all__ = [
    "test_clear_restores_real_presence",
    "test_component_reconnect_keeps_overlay_prosody_restart_drops_it",
    "test_identical_reset_sends_nothing_new",
    "test_last_resource_offline_keeps_overlay",
    "test_list_returns_state",
    "test_login_and_probe_during_overlay",
    "test_malformed_set_is_rejected",
    "test_manual_change_dismisses_overlay",
    "test_muc_room_sees_overlay_and_its_end",
    "test_one_off_directed_target_gets_what_she_sent_and_no_resends",
    "test_resend_after_nick_change_goes_to_the_new_nick_only",
    "test_set_overlays_contacts_but_not_own_resources",
    "test_until_passes_restores_real_presence_without_clear",
    "test_untrusted_sender_is_forbidden",
]
