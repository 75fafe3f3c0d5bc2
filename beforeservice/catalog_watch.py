"""Hot reload of the benefit catalog: a rule edit takes effect without a restart, and a broken edit never does.

The whole catalog is loaded anew when any file changes; if it fails to load, the previous catalog stays active
and the error is kept for logs and metrics until the files are fixed. Looking for changes walks the directory
and stats every file (milliseconds): `check_every` seconds apart at most, so that an API asking on every request
does not pay it each time.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rules_engine.catalog import Catalog, CatalogError
from rules_engine.loader import load_catalog

log = logging.getLogger(__name__)


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.rglob("*.yaml")) if p.is_file()
    )


class CatalogWatch:
    def __init__(self, directory: Path, check_every: float = 0.0) -> None:
        self.directory = directory
        self.check_every = check_every
        self._checked = time.monotonic()
        self._fingerprint = _fingerprint(directory)
        self._catalog = load_catalog(directory)  # at start-up a broken catalog is fatal: nothing to fall back on
        self.last_error: str | None = None

    def current(self) -> Catalog:
        """The catalog to use now, reloaded if its files changed and the new version loads."""
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._catalog
        self._checked = now
        fingerprint = _fingerprint(self.directory)
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            try:
                self._catalog = load_catalog(self.directory)
                self.last_error = None
                log.warning("benefit catalog reloaded: %d benefits", len(self._catalog.benefits))
            except CatalogError as error:
                self.last_error = str(error)
                log.error("benefit catalog NOT reloaded, the previous one stays active: %s", error)
        return self._catalog
