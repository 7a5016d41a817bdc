"""Throw-away local servers for the demo and the test suite (never for production)."""
