"""Services and form fields named in free text, for the dialogue.

The entity extractor (`bot.nlu.extractor`) tags `service` and `field` entities with offsets while Rasa
parses a message; these functions answer the same question for text the dialogue holds without
entities: a slot candidate ('di dời công tơ' typed when asked which service), the answer to 'which
field?' ('sai sđt rồi'), or a message whose entity was not tagged. Both match the catalogue's phrases
and Vietnamese names accent-insensitively, longest wording first.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from bot.catalogue import Catalogue
from bot.text import fold


def parse_service(text: str, catalogue: Catalogue) -> Optional[str]:
    """A catalogue service code from a code, its Vietnamese name or one of its phrases (longest wins)."""
    raw = (text or "").strip()
    if raw in catalogue.services:
        return raw
    folded = fold(raw)
    best, best_len = None, 0
    for service in catalogue.services.values():
        for phrase in (*service.phrases, service.vi, service.short):
            p = fold(phrase)
            if len(p) > best_len and (p == folded or re.search(rf"(?<!\w){re.escape(p)}(?!\w)", folded)):
                best, best_len = service.code, len(p)
    return best


# Extra ways customers name a field; the catalogue's Vietnamese labels are matched too.
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "full_name": ("tên", "họ tên", "họ và tên", "tên khách hàng"),
    "phone": ("số điện thoại", "sđt", "sdt", "số đt", "đt", "điện thoại", "dt"),
    "email": ("email", "mail", "thư điện tử"),
    "id_number": ("cccd", "cmnd", "căn cước", "chứng minh", "số cccd", "số cmnd"),
    "customer_code": ("mã khách hàng", "mã kh", "makh", "mã", "mã khách"),
    "address": ("địa chỉ", "đ/c", "dc"),
    "usage_purpose": ("mục đích", "mục đích sử dụng"),
    "phase": ("pha", "loại công tơ", "số pha"),
    "capacity_kw": ("công suất", "kw"),
    "households": ("số hộ", "hộ", "định mức", "số người"),
    "new_location": ("vị trí", "vị trí mới", "chỗ mới"),
    "payment_method": ("hình thức thanh toán", "thanh toán", "cách trả tiền"),
    "desired_date": ("ngày", "ngày mong muốn", "thời gian", "ngày hẹn"),
    "description": ("mô tả", "nội dung", "chi tiết"),
}


def parse_field(text: str, catalogue: Catalogue, allowed: Optional[Sequence[str]] = None) -> Optional[str]:
    """Slot name the customer refers to ('sai sđt rồi' -> 'phone'), longest wording wins."""
    raw = (text or "").strip()
    names = list(allowed) if allowed is not None else list(catalogue.slots)
    if raw in names:
        return raw
    folded = fold(raw)
    best, best_len = None, 0
    for name in names:
        spec = catalogue.slots.get(name)
        words = FIELD_WORDS.get(name, ()) + ((spec.vi,) if spec else ())
        for word in words:
            w = fold(word)
            if len(w) > best_len and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded):
                best, best_len = name, len(w)
    return best
