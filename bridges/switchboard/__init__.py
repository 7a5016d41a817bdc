"""The switchboard console: a web page where operators see everyone's presence and act on it."""
