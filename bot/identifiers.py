"""Shapes of the identifiers customers type: customer codes and request codes.

Shared by the catalogue, the database layer, the NLU and the actions, so none of them has to import
another just for a regular expression.
"""
from __future__ import annotations

import re
from typing import Optional

# Customer code (printed on the electricity bill): 'P', a corporation letter, 4 unit characters,
# then 5-7 digits, e.g. PD01000123456. The first 6 characters are the unit code.
CUSTOMER_CODE = r"P[A-Z][A-Z0-9]{4}\d{5,7}"
CUSTOMER_CODE_RE = re.compile(rf"^{CUSTOMER_CODE}$")
# A customer code inside a message (any case); group 1 is the code.
CUSTOMER_CODE_IN_TEXT_RE = re.compile(rf"(?<![A-Za-z0-9])({CUSTOMER_CODE})(?![A-Za-z0-9])", re.IGNORECASE)

# Request code given after a submission: 'YC' (yêu cầu) and 6 characters without 0/O and 1/I,
# e.g. YC7K4M9P; customers may type 'yc-7k4m9p' or 'YC 7K4M9P'. Group 1 is the 6 characters.
REQUEST_CODE_RE = re.compile(r"\bYC[-\s]?([A-HJ-NP-Z2-9]{6})\b", re.IGNORECASE)


def normalise_request_code(text: str) -> Optional[str]:
    """'yc-7k4m9p' -> 'YC7K4M9P'; None when the text holds no request code."""
    m = REQUEST_CODE_RE.search(text or "")
    return f"YC{m.group(1).upper()}" if m else None
