"""Admin side: the /admin API, the status page, Prometheus metrics and the audit log."""
