"""Masking works on bytes: RRNs become ######-####### and every other byte, valid UTF-8 or not, stays."""

from __future__ import annotations

from events.privacy import mask

RRN = b"900101-1234567"


def test_invalid_utf8_around_an_rrn_is_kept_byte_for_byte() -> None:
    raw = b'\xff\xfe\x00{"note": "' + RRN + b'", "bad": "\xc3\x28\xed\xa0\x80"}\xe2\x82'
    assert mask(raw) == raw.replace(RRN, b"######-#######")


def test_without_an_rrn_every_byte_of_every_value_comes_back() -> None:
    every_byte = bytes(range(256)) * 2
    assert mask(every_byte) == every_byte


def test_rrns_without_hyphen_next_to_multibyte_text_are_masked_and_implausible_ones_kept() -> None:
    raw = "주민번호9001011234567끝 991332-1234567".encode()
    assert mask(raw) == "주민번호######-#######끝 991332-1234567".encode()
