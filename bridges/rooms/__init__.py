"""Project rooms: room specs -> MUC rooms on the XMPP server, invitations, bookmarks,
lifecycle, meeting reminders and ICS feeds (deploy/rooms.md)."""
