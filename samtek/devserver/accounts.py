"""Accounts and rosters a test XMPP server is seeded with before its first start (shared by
the Prosody and ejabberd harnesses)."""

from __future__ import annotations

import re
from typing import ClassVar

SUBSCRIPTIONS = {"none", "to", "from", "both"}


class SeededAccounts:
    """Mixin: `add_user`/`add_contact` record what the server writes at its first start."""

    error: ClassVar[type[Exception]] = RuntimeError
    domain: str
    _started_once: bool
    _passwords: dict[str, str]
    _rosters: dict[str, dict[str, tuple[str | None, str]]]

    def _init_accounts(self) -> None:
        self._started_once = False
        self._passwords = {}
        self._rosters = {}

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def add_user(self, name: str, password: str) -> str:
        """Register an account at the first start; returns its bare JID."""
        self._check_writable()
        if not name or name != name.lower() or re.search(r"[\s@/\"&'<>:]", name):
            raise self.error(f"user name {name!r} is not a normalised JID localpart")
        self._passwords[name] = password
        return self.jid(name)

    def add_contact(
        self,
        user: str,
        contact_jid: str,
        name: str | None = None,
        subscription: str = "both",
    ) -> None:
        """Put `contact_jid` on `user`'s roster (one direction; call twice for mutual)."""
        self._check_writable()
        if user not in self._passwords:
            raise self.error(f"add_contact: {user!r} is not a user added with add_user()")
        if subscription not in SUBSCRIPTIONS:
            raise self.error(
                f"add_contact: subscription {subscription!r} not in {sorted(SUBSCRIPTIONS)}"
            )
        self._rosters.setdefault(user, {})[contact_jid] = (name, subscription)

    def _check_writable(self) -> None:
        if self._started_once:
            raise self.error("users and contacts can only be added before the first start()")
