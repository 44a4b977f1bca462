"""Pattern entities found anywhere in a message, with offsets into the original text.

`find_patterns(text)` returns non-overlapping `PatternMatch(entity, start, end, value)` in text
order. Values are normalised: phone -> 0xxxxxxxxx, customer_code -> upper case, request_code ->
`YCxxxxxx` (via `bot.identifiers.normalise_request_code`), id_number -> digits only, email ->
lower case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.identifiers import CUSTOMER_CODE_IN_TEXT_RE, REQUEST_CODE_RE, normalise_request_code

# Characters that may separate digit groups inside one number: space, dot, dash (one at a time).
_SEP = r"[ .\-\u00a0]"

# Vietnamese mobile numbers: 0 or +84/84/(+84) then 3|5|7|8|9 then 8 digits.
# 1) compact 10/11 digit form; may be followed by another number ("0912345678 0987654321").
_PHONE_COMPACT = re.compile(r"(?<![\w+])(?:\+?84|0)([35789]\d{8})(?!\d)")
# 2) grouped form with separators ("0912 345 678", "+84 912.345.678", "(+84) 912-345-678");
#    it must not run on into more digit groups (a spaced CCCD is not a phone).
_PHONE_GROUPED = re.compile(
    r"(?<![\w+])(?:\(\s?\+?84\s?\)|\+?84|0)" + _SEP + r"?(?:\(0\)" + _SEP + r"?)?"
    r"([35789](?:" + _SEP + r"?\d){8})(?!" + _SEP + r"?\d)"
)
# CCCD: 12 digits, province code 001-096 (compact or grouped 3-3-3-3 / 4-4-4 / 3-3-6).
_CCCD = re.compile(
    r"(?<![\w.])(0(?:0[1-9]|[1-8]\d|9[0-6])\d{9}"
    r"|0\d{2}" + _SEP + r"\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{3}"
    r"|0\d{3}" + _SEP + r"\d{4}" + _SEP + r"\d{4}"
    r"|0\d{2}" + _SEP + r"\d{3}" + _SEP + r"\d{6})(?![\w.]?\d)"
)
# CMND: 9 digits, compact only.
_CMND = re.compile(r"(?<![\w.+])(\d{9})(?![\w]|[.,]\d)")
_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?![\w])")


@dataclass(frozen=True)
class PatternMatch:
    entity: str
    start: int
    end: int
    value: str


def _request_codes(text: str) -> list[PatternMatch]:
    out = []
    for m in REQUEST_CODE_RE.finditer(text):
        body = m.group(1)
        joined = m.group(0)[2:3] not in ("-", " ", "\u00a0")
        # "yc chuyen" is "yêu cầu chuyển": a separated code must contain a digit.
        if not joined and not any(ch.isdigit() for ch in body):
            continue
        value = normalise_request_code(m.group(0))
        if value:
            out.append(PatternMatch("request_code", m.start(), m.end(), value))
    return out


def find_patterns(text: str) -> list[PatternMatch]:
    """All pattern entities of `text`, non-overlapping, in text order."""
    candidates: list[PatternMatch] = []
    candidates += [PatternMatch("email", m.start(1), m.end(1), m.group(1).lower())
                   for m in _EMAIL.finditer(text)]
    candidates += [PatternMatch("customer_code", m.start(1), m.end(1), m.group(1).upper())
                   for m in CUSTOMER_CODE_IN_TEXT_RE.finditer(text)]
    candidates += _request_codes(text)
    for regex in (_PHONE_COMPACT, _PHONE_GROUPED):
        candidates += [PatternMatch("phone", m.start(), m.end(), "0" + re.sub(r"\D", "", m.group(1)))
                       for m in regex.finditer(text)]
    candidates += [PatternMatch("id_number", m.start(1), m.end(1), re.sub(r"\D", "", m.group(1)))
                   for m in _CCCD.finditer(text)]
    candidates += [PatternMatch("id_number", m.start(1), m.end(1), m.group(1))
                   for m in _CMND.finditer(text)]
    # Earlier candidates (by the order above) win over later overlapping ones.
    chosen: list[PatternMatch] = []
    for cand in candidates:
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda c: c.start)
