"""Lifecycle: the supervisor that runs, restarts and stops every part of the service."""
