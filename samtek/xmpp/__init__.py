"""The XMPP platform adapter: one XEP-0114 component session and the protocols spoken on it."""
