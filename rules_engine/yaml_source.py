"""YAML as the catalog reads it: safe, duplicate keys refused, every mapping key's line kept for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class CatalogError(ValueError):
    """The catalog cannot be loaded; the message names the file, the line and what is wrong."""


class LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key, for precise error messages."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    # YAML lets a later key silently replace an earlier one: two values for one date would be two laws in force.
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]}): overlapping dates or settings",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    mapping = Lines(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    mapping.line = node.start_mark.line + 1
    return mapping


class Lines(dict[str, Any]):
    lines: dict[str, int]
    line: int


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(mapping: Any, key: str | None = None) -> int:
    if isinstance(mapping, Lines):
        return mapping.lines.get(key, mapping.line) if key else mapping.line
    return 0


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # the line the parser stopped on, as file:line like every error
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise CatalogError(f"{where}: invalid YAML: {exc}") from exc
