"""Benefits citizens are entitled to: the catalog (law as data), matching, lifecycles and their storage."""

from pathlib import Path

CATALOG_DIR = Path(__file__).parent / "catalog"
