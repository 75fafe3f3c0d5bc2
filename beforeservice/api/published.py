"""The OpenAPI document as published outside development, built without starting the app (docs/schemas)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from beforeservice.api.app import create_app
from beforeservice.settings import Settings


def published_document() -> dict[str, Any]:
    """The document as served outside development (no /v1/dev/login), without starting the app."""
    return create_app(Settings(dev_mode=False, dev_login=False)).openapi()


def export(directory: Path) -> Path:
    """Write the published document to DIRECTORY/openapi.json (docs/schemas holds the committed one)."""
    path = directory / "openapi.json"
    path.write_text(json.dumps(published_document(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
