"""The app's JavaScript, as a phone downloads it compressed: `python -m beforeservice.citizen_app.js_size`.

Counts every script the app can load (its own, the service worker, the vendored firebase messaging bundle) at
gzip level 9, as a reverse proxy would serve them; the issue's budget is 150 KB compressed in all."""

from __future__ import annotations

import gzip
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
BUDGET_BYTES = 150 * 1024


def script_sizes() -> dict[str, tuple[int, int]]:
    """Each script's (raw, gzip -9) size in bytes, by its path under static/."""
    return {
        str(path.relative_to(STATIC)): (len(data := path.read_bytes()), len(gzip.compress(data, compresslevel=9)))
        for path in sorted(STATIC.rglob("*.js"))
    }


def report() -> list[str]:
    sizes = script_sizes()
    lines = [f"{name:<40} {raw:>8,} B  {packed:>7,} B gzip" for name, (raw, packed) in sizes.items()]
    total = sum(packed for _, packed in sizes.values())
    lines.append(f"{'total JavaScript (compressed)':<40} {'':>10}  {total:>7,} B gzip (budget {BUDGET_BYTES:,} B)")
    return lines


if __name__ == "__main__":
    print("\n".join(report()))
