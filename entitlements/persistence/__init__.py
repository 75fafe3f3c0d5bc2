"""The entitlements wing's SQL: tables, sealing at rest, the repository, the status gate's writes, sweeps."""
