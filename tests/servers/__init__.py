"""Real servers started by tests on 127.0.0.1 in temp dirs (see each module)."""
