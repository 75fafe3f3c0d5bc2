"""The KRDS look shared by the console and the citizens' app: one stylesheet (shared_static/krds.css) of tokens and
base rules, served under each app's own static path so that each page (and the app's offline cache) has it."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles


def with_krds(directory: Path) -> StaticFiles:
    """An app's static files, with krds.css beside them (the app's own files are looked up first)."""
    return StaticFiles(directory=str(directory), packages=[("beforeservice", "shared_static")])
