"""Presence: claims from sources, one pure resolver, texts in three languages."""
