"""Agency ingestion credentials, the caseworker console, the take-up dashboard and the audit log."""
