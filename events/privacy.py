"""Resident registration numbers (주민등록번호) at the edge: pseudonymised in their designated field, refused
anywhere else, and masked in whatever we must keep of a refused event.

PIPA allows processing an RRN only where a law requires it, and never in clear at rest: an agency that must
identify a person by RRN puts it in a person object's `rrn` field; we replace it with a keyed pseudonym
(HMAC-SHA256) before the event is produced to Kafka, validated, stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from events.errors import FieldError, InvalidEvent

# YYMMDD, optional hyphen, then the gender/century digit 1-8 and six more digits.
RRN_PATTERN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})-?([1-8])(\d{6})(?!\d)")
RRN_FIELD = "rrn"
MASK = "######-#######"
# The same pattern over bytes (where `\d` is ASCII only), so masking keeps every other byte exact, even invalid UTF-8.
RRN_BYTES_PATTERN = re.compile(RRN_PATTERN.pattern.encode())


_SHORTEST = 13  # twelve digits and the century digit: a shorter string cannot hold one


def looks_like_rrn(text: str) -> bool:
    # Every string of every event passes here: the length test and one search settle almost all of them.
    if len(text) < _SHORTEST or RRN_PATTERN.search(text) is None:
        return False
    return any(_plausible(m) for m in RRN_PATTERN.finditer(text))


def _plausible(match: re.Match[str] | re.Match[bytes]) -> bool:
    yy, mm, dd, century_digit = int(match[1]), int(match[2]), int(match[3]), int(match[4])
    century = 1900 if century_digit in (1, 2, 5, 6) else 2000
    try:
        date(century + yy, mm, dd)
    except ValueError:
        return False
    return True


def mask(raw: bytes) -> bytes:
    """The bytes with every plausible RRN replaced, for dead letters and logs; every other byte stays as it was."""
    return RRN_BYTES_PATTERN.sub(lambda m: _MASK_BYTES if _plausible(m) else m[0], raw)


_MASK_BYTES = MASK.encode()


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the pseudonym key must be at least 32 bytes")
        self._key = key

    def pseudonym(self, rrn: str) -> str:
        digits = rrn.replace("-", "").strip()
        match = RRN_PATTERN.fullmatch(digits)
        if not match or not _plausible(match):
            raise InvalidEvent(
                "invalid field 'rrn': not a resident registration number", [FieldError("rrn", "invalid")]
            )
        return "rrn-" + hmac.new(self._key, digits.encode(), hashlib.sha256).hexdigest()[:40]

    def protect(self, data: Any, path: str = "data") -> Any:
        """A copy of `data` with every `rrn` field turned into `id`; any RRN elsewhere is refused."""
        if isinstance(data, dict):
            result = {}
            for key, value in data.items():
                if len(key) >= _SHORTEST and looks_like_rrn(key):
                    raise InvalidEvent(
                        f"invalid field '{path}': a key holds a resident registration number",
                        [FieldError(path, "resident registration number as a key")],
                        status=422,
                    )
                if key == RRN_FIELD:
                    if not isinstance(value, str):
                        raise InvalidEvent(
                            f"invalid field '{path}.rrn'", [FieldError(f"{path}.rrn", "must be a string")]
                        )
                    if "id" in data:
                        raise InvalidEvent(f"'{path}' has both 'id' and 'rrn'", [FieldError(f"{path}.rrn", "give one")])
                    result["id"] = self.pseudonym(value)
                elif isinstance(value, str):  # the common leaf, without a call
                    if len(value) >= _SHORTEST and looks_like_rrn(value):
                        self.protect(value, f"{path}.{key}")  # raises, naming the field
                    result[key] = value
                else:
                    result[key] = self.protect(value, f"{path}.{key}")
            return result
        if isinstance(data, list):
            return [self.protect(v, f"{path}.{i}") for i, v in enumerate(data)]
        if isinstance(data, str) and looks_like_rrn(data):
            raise InvalidEvent(
                f"invalid field '{path}': a resident registration number is accepted only in an 'rrn' field",
                [FieldError(path, "resident registration number outside the designated field")],
                status=422,
            )
        return data


def strings_of(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_of(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_of(v)


def protect_event(envelope: Any, pseudonymizer: Pseudonymizer) -> Any:
    """The CloudEvent with its data protected; an RRN in any context attribute (name or value) is refused."""
    for name, value in envelope.attributes().items():
        if looks_like_rrn(name):  # an extension attribute named by an RRN: say so without repeating it
            raise InvalidEvent(
                "an extension attribute's name is a resident registration number",
                [FieldError("extension attribute name", "resident registration number")],
                status=422,
            )
        if isinstance(value, str) and looks_like_rrn(value):
            raise InvalidEvent(
                f"invalid field '{name}': a resident registration number is accepted only in an 'rrn' field",
                [FieldError(name, "resident registration number outside the designated field")],
                status=422,
            )
    return envelope.model_copy(update={"data": pseudonymizer.protect(envelope.data)})
