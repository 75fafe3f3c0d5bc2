"""The app's stylesheet (the shared KRDS tokens, then the app's own rules) inlined in every page, allowed by its
hash in the CSP: on a slow phone network each render-blocking stylesheet costs a round trip before the first paint
(`beforeservice bench app` measured the two linked files at about +400 ms over the bare HTML), and an offline copy of
a page then carries its own look."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from markupsafe import Markup

HERE = Path(__file__).resolve().parent
SOURCES = (HERE.parent / "shared_static" / "krds.css", HERE / "static" / "app.css")


def _read() -> str:
    css = "\n".join(path.read_text(encoding="utf-8") for path in SOURCES)
    if "</" in css:  # our own files; the guard keeps a stray end tag from ever closing the <style> early
        raise ValueError("a stylesheet inlined in the page must not contain '</'")
    return css


CSS = _read()
# What the browser hashes is exactly the text between <style> and </style>.
CSP_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii") + "'"


def style_element() -> Markup:
    return Markup(f"<style>{CSS}</style>")  # our own stylesheet, checked above; never outside input
