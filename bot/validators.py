"""Pure parsing and validation of what customers type (Zalo style: no diacritics, shorthand, spaces).

Every `validate_*` function takes the raw text of one reply and returns a `Check`: the normalised
value when the answer is usable, else a short Vietnamese reason that the dialogue shows before
asking again. Nothing here touches the database or Rasa; the form action adds those checks.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator, Optional

from bot.catalogue import Catalogue, Corporation, SlotSpec
from bot.dates import NUMBER_WORDS, parse_date
from bot.identifiers import CUSTOMER_CODE
from bot.text import fold, strip_accents


@dataclass(frozen=True)
class Check:
    """Outcome of validating one answer: `value` when valid, else `error` (Vietnamese, one sentence)."""

    value: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def valid(value: Any) -> Check:
    return Check(value=value)


def invalid(reason: str) -> Check:
    return Check(error=reason)


def as_text(value: Any) -> str:
    """Slot candidates may be numbers, lists (several entities) or button payload strings."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    text = str(value).strip()
    # A button payload such as '/inform{"phase":"3"}' whose entity the domain did not know.
    m = re.fullmatch(r"/\w+(\{.*\})", text)
    if m:
        try:
            data = json.loads(m.group(1))
            if isinstance(data, dict) and len(data) == 1:
                return str(next(iter(data.values()))).strip()
        except ValueError:
            pass
    return text


# --------------------------------------------------------------------------- digit runs

_DIGIT_GROUP = re.compile(r"\+?\d+")
_JOINER = re.compile(r"[\s.\-()/]{1,3}")


def _digit_candidates(text: str) -> Iterator[str]:
    """Digit strings in the text: each run of digit groups joined across short separators
    ('0912 345.678'), then its contiguous sub-runs at group boundaries (so two numbers separated
    by a space are still found), longest first."""
    groups = list(_DIGIT_GROUP.finditer(text))
    chains: list[list[str]] = []
    for i, g in enumerate(groups):
        gap = text[groups[i - 1].end():g.start()] if i else None
        if i and _JOINER.fullmatch(gap or "") and not g.group().startswith("+"):
            chains[-1].append(g.group())
        else:
            chains.append([g.group()])
    seen = set()
    for chain in chains:
        n = len(chain)
        spans = sorted(((i, j) for i in range(n) for j in range(i + 1, n + 1)), key=lambda s: (s[0] - s[1], s[0]))
        for i, j in spans:
            cand = "".join(chain[i:j])
            if cand not in seen:
                seen.add(cand)
                yield cand


# --------------------------------------------------------------------------- phone

MOBILE_RE = re.compile(r"0[35789]\d{8}")
# 11-digit numbers converted in 2018 (old prefix -> new prefix).
OLD_MOBILE_PREFIXES = {
    **{f"016{d}": f"03{d}" for d in "23456789"},
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0186": "056", "0188": "058", "0199": "059",
}
PHONE_RULE = "số di động 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09"


def _local_phone(candidate: str) -> Optional[str]:
    plus = candidate.startswith("+")
    digits = candidate.lstrip("+")
    if digits.startswith("0084"):
        digits = digits[2:]
    if digits.startswith("84") and len(digits) == 11:
        local = "0" + digits[2:]
    elif plus:
        return None
    elif len(digits) == 10 and digits.startswith("0"):
        local = digits
    elif len(digits) == 11 and digits[:4] in OLD_MOBILE_PREFIXES:
        local = OLD_MOBILE_PREFIXES[digits[:4]] + digits[4:]
    elif len(digits) == 9 and digits[0] in "35789":  # leading 0 forgotten: '912345678'
        local = "0" + digits
    else:
        return None
    return local if MOBILE_RE.fullmatch(local) else None


def normalise_phone(text: Any) -> Optional[str]:
    """'+84 912.345.678' / '84912345678' / 'sđt mình là 0912 345 678' -> '0912345678'; None if absent."""
    for cand in _digit_candidates(as_text(text)):
        local = _local_phone(cand)
        if local:
            return local
    return None


def validate_phone(text: Any) -> Check:
    raw = as_text(text)
    phone = normalise_phone(raw)
    if phone:
        return valid(phone)
    digits = [c.lstrip("+") for c in _digit_candidates(raw)]
    if any(d.startswith("02") and len(d) == 11 for d in digits):
        return invalid(f"Đây có vẻ là số máy bàn; em cần {PHONE_RULE}.")
    if not digits:
        return invalid(f"Em chưa thấy số điện thoại trong tin nhắn; em cần {PHONE_RULE}.")
    return invalid(f"Số điện thoại chưa đúng; em cần {PHONE_RULE}.")


# --------------------------------------------------------------------------- CCCD / CMND

def validate_id_number(text: Any) -> Check:
    """12-digit CCCD whose first 3 digits are a province code 001-096, or a legacy 9-digit CMND."""
    bad_province = None
    candidates = [c.lstrip("+") for c in _digit_candidates(as_text(text))]
    for digits in candidates:
        if len(digits) == 12:
            if 1 <= int(digits[:3]) <= 96:
                return valid(digits)
            bad_province = digits
    for digits in candidates:
        if len(digits) == 9:
            return valid(digits)
    if bad_province:
        return invalid(f"Số CCCD {bad_province} có mã tỉnh {bad_province[:3]} không hợp lệ "
                       "(3 số đầu phải từ 001 đến 096).")
    return invalid("Số CCCD cần đủ 12 chữ số (hoặc CMND cũ 9 chữ số).")


# --------------------------------------------------------------------------- customer code

_CODE_AREA = re.compile(r"(?<![A-Z0-9])P[A-Z0-9][A-Z0-9\s.\-]{8,24}")
_CODE_PREFIX = re.compile(CUSTOMER_CODE)


@dataclass(frozen=True)
class RoutedCode:
    code: str
    corporation: Corporation


def find_customer_code(text: Any) -> Optional[str]:
    """'mã kh pd01 000 123 456 nhé' -> 'PD01000123456' (format only, no routing)."""
    upper = strip_accents(as_text(text)).upper()
    for m in _CODE_AREA.finditer(upper):
        compact = re.sub(r"[\s.\-]", "", m.group())
        code = _CODE_PREFIX.match(compact)
        if code and not compact[code.end():code.end() + 1].isdigit():
            return code.group()
    return None


def validate_customer_code(text: Any, catalogue: Catalogue) -> Check:
    """Format check plus routing; the value is a `RoutedCode`. Existence in the customer table is the
    caller's job (it needs the database)."""
    code = find_customer_code(text)
    if not code:
        return invalid("Mã khách hàng gồm 13 ký tự, bắt đầu bằng chữ P (in trên hóa đơn tiền điện).")
    corp = catalogue.route(code)
    if corp is None:
        prefixes = ", ".join(sorted({p[:2] for p in catalogue.routing}))
        return invalid(f"Mã {code} không thuộc tổng công ty điện lực nào (mã bắt đầu bằng {prefixes}).")
    return valid(RoutedCode(code, corp))


# --------------------------------------------------------------------------- full name

_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’\-][^\W\d_]+)*$")
# Lead-in words stripped before the name: 'tên mình là', 'họ tên: ', 'em là', 'tôi tên'.
_NAME_LEAD = re.compile(
    r"^(?:(?:ho va ten|ho ten|ten day du|ten khach hang|ten nguoi dang ky|ten)\s*(?:cua\s*)?"
    r"(?:(?:toi|minh|em|anh|chi|tui|mk|mik|e|a|c)\b)?\s*(?:la\b|:)?\s*"
    r"|(?:toi|minh|em|anh|chi|tui|mk|mik|e|a|c)\s+(?:ten\s+la|ten|la)\s+)",
)
_NAME_TAIL = {"a", "ạ", "nhe", "nhé", "nha", "nhá", "ak", "ah", "à", "em", "e", "nhaa"}
# Words that never occur in a person's name (compared lower-case, with diacritics).
_NOT_NAME = {
    "không", "ko", "k", "khong", "biết", "rồi", "roi", "đúng", "sai", "ok", "oke", "okay", "vâng",
    "dạ", "muốn", "ký", "hủy", "huỷ", "thôi", "gì", "sao", "chưa", "nhiêu", "địa", "chỉ", "điện",
    "thoại", "sđt", "sdt", "cccd", "cmnd", "khách", "hỏi", "xin", "giúp", "với", "được", "đc", "dc", "tơ",
}


def _name_from(segment: str) -> Check:
    words = segment.split()
    folded = " ".join(fold(w) for w in words)
    lead = _NAME_LEAD.match(folded)
    if lead and lead.end():
        words = words[len(folded[:lead.end()].split()):]
    words = [w.strip(".!?:") for w in words if w.strip(".!?:")]
    while words and words[-1].lower() in _NAME_TAIL:
        words.pop()
    if not words:
        return invalid("Em chưa thấy họ tên trong tin nhắn.")
    if any(not _NAME_WORD.match(w) for w in words):
        return invalid("Họ và tên chỉ gồm chữ cái (có dấu hoặc không dấu), không có số hay ký hiệu.")
    if any(w.lower() in _NOT_NAME for w in words):
        return invalid("Em chưa thấy họ tên trong tin nhắn.")
    if len(words) < 2:
        return invalid("Anh/chị cho em xin đầy đủ họ và tên (cả họ lẫn tên).")
    name = " ".join(w[:1].upper() + w[1:].lower() for w in words)
    if len(name) > 80 or len(words) > 8:
        return invalid("Họ và tên dài quá, anh/chị kiểm tra lại giúp em.")
    return valid(name)


def validate_full_name(text: Any) -> Check:
    """2-80 letters (Vietnamese diacritics included), at least two words; stored in title case.
    Lead-ins ('tên mình là') and a phone or code typed in the same message are left out."""
    segments = [s.strip() for s in re.split(r"[,;\n]|\S*\d\S*", as_text(text)) if s.strip()]
    first = None
    for segment in segments:
        check = _name_from(segment)
        if check.ok:
            return check
        first = first or check
    return first or invalid("Em chưa thấy họ tên trong tin nhắn.")


# --------------------------------------------------------------------------- address

PROVINCES = (
    "an giang", "ba ria", "vung tau", "bac giang", "bac kan", "bac lieu", "bac ninh", "ben tre", "binh dinh",
    "binh duong", "binh phuoc", "binh thuan", "ca mau", "can tho", "cao bang", "da nang", "dak lak", "daklak",
    "dac lac", "dak nong", "dien bien", "dong nai", "dong thap", "gia lai", "ha giang", "ha nam", "ha noi",
    "ha tinh", "hai duong", "hai phong", "hau giang", "hoa binh", "hung yen", "khanh hoa", "kien giang",
    "kon tum", "lai chau", "lam dong", "lang son", "lao cai", "long an", "nam dinh", "nghe an", "ninh binh",
    "ninh thuan", "phu tho", "phu yen", "quang binh", "quang nam", "quang ngai", "quang ninh", "quang tri",
    "soc trang", "son la", "tay ninh", "thai binh", "thai nguyen", "thanh hoa", "hue", "thua thien",
    "tien giang", "ho chi minh", "hcm", "tphcm", "sai gon", "saigon", "sg", "hn", "tra vinh", "tuyen quang",
    "vinh long", "vinh phuc", "yen bai",
)
_PROVINCE_RE = re.compile(r"\b(?:tinh|tp|thanh pho|t\.p)\b|\b(?:" + "|".join(PROVINCES) + r")\b")
_WARD_RE = re.compile(
    r"\b(?:phuong|xa|thi tran|thi xa|quan|huyen)\b|\b(?:p|q|x|h|tt)\s?\.?\s?\d+\b|\b(?:p|q|x|h|tt)\.\s?[^\W\d_]")
_STREET_RE = re.compile(
    r"\d|\b(?:so|ngo|ngach|hem|kiet|duong|pho|thon|xom|ap|ban|khu pho|kp|khom|to|lo|chung cu|toa|can ho|"
    r"khu|lang|doi|buon|plei|soc)\b")
ADDRESS_RULE = "số nhà/đường (hoặc thôn, xóm, ấp), phường/xã và tỉnh/thành phố"
_ADDRESS_LEAD = re.compile(
    r"^(?:(?:dia chi|d/c|đ/c)\s*(?:cua\s*)?(?:toi|minh|em|nha minh|nha toi|nha em)?\s*(?:la\b|:|o\b)?"
    r"|(?:nha\s+)?(?:toi|minh|em|tui)\s+(?:o|song o)\b|o\b)\s*")


def validate_address(text: Any) -> Check:
    """Reasonable postal address: a street-level part, a ward/commune (or district) and a province."""
    words = as_text(text).split()
    folded_words = " ".join(fold(w) for w in words)
    lead = _ADDRESS_LEAD.match(folded_words)
    if lead and lead.end():
        words = words[len(folded_words[:lead.end()].split()):]
    raw = " ".join(words).strip(" .:")
    folded = fold(raw)
    if len(raw) < 10 or not re.search(r"[^\W\d_]", raw):
        return invalid(f"Địa chỉ ngắn quá; em cần {ADDRESS_RULE}.")
    if len(raw) > 300:
        return invalid("Địa chỉ dài quá 300 ký tự, anh/chị ghi gọn lại giúp em.")
    city_free = re.sub(r"\b(?:thanh pho|khu pho)\b", " ", folded)
    missing = []
    if not _STREET_RE.search(city_free):
        missing.append("số nhà/đường (hoặc thôn, xóm)")
    if not _WARD_RE.search(folded):
        missing.append("phường/xã")
    if not _PROVINCE_RE.search(folded):
        missing.append("tỉnh/thành phố")
    if missing:
        return invalid("Địa chỉ còn thiếu " + " và ".join(missing) + ".")
    return valid(raw)


# --------------------------------------------------------------------------- choices (values[].words)

def parse_choice(spec: SlotSpec, text: Any) -> Optional[str]:
    """Value code of a choice slot from a button payload, a code or the catalogue words (longest wins)."""
    raw = as_text(text)
    folded = fold(raw)
    for value in spec.values:
        if folded == fold(value.code) or folded == fold(value.vi):
            return value.code
    best, best_len = None, 0
    for value in spec.values:
        for word in (*value.words, value.vi):
            w = fold(word)
            if len(w) > best_len and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded):
                best, best_len = value.code, len(w)
    return best


def validate_choice(spec: SlotSpec, text: Any) -> Check:
    code = parse_choice(spec, text)
    if code is not None:
        return valid(code)
    options = " / ".join(v.vi for v in spec.values)
    return invalid(f"Em chưa rõ {spec.vi.lower()} anh/chị chọn; anh/chị chọn một trong: {options}.")


# --------------------------------------------------------------------------- dates

MAX_DAYS_AHEAD = 366


def validate_date(text: Any, today: date) -> Check:
    """A date from today to a year ahead; the value is ISO 'YYYY-MM-DD'."""
    found = parse_date(as_text(text), today)
    if found is None:
        return invalid("Em chưa hiểu ngày anh/chị chọn (ví dụ: 15/12, 15/12/2026, \"ngày mai\" "
                       "hoặc \"thứ hai tuần sau\").")
    if found < today:
        return invalid(f"Ngày {found:%d/%m/%Y} đã qua; anh/chị chọn từ hôm nay ({today:%d/%m/%Y}) trở đi.")
    if found > today + timedelta(days=MAX_DAYS_AHEAD):
        return invalid(f"Ngày {found:%d/%m/%Y} xa quá; anh/chị chọn ngày trong vòng 12 tháng tới.")
    return valid(found.isoformat())



# --------------------------------------------------------------------------- numbers with units

_NUMBER_UNIT = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*(kw|kva|mw|mva|w|kilo\s?oat|kilowatt|ki lo oat|pha|ho|nguoi|ng)?(?![\w])")
_POWER_UNITS = {"kw", "kva", "mw", "mva", "w", "kilooat", "kilowatt", "kilooat"}


def _numbers(folded: str) -> list[tuple[str, str]]:
    """(number text, unit) pairs; the unit is '' when none follows."""
    return [(m.group(1), (m.group(2) or "").replace(" ", "")) for m in _NUMBER_UNIT.finditer(folded)]


def _to_decimal(number: str) -> Optional[Decimal]:
    """'5,5' -> 5.5 (Vietnamese decimal comma); '1.500' -> 1500 (thousands dot); '5.5' -> 5.5."""
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", number):
        number = number.replace(".", "")
    elif re.fullmatch(r"\d{1,3}(?:,\d{3}){2,}", number):
        number = number.replace(",", "")
    else:
        number = number.replace(",", ".")
        if number.count(".") > 1:
            return None
    try:
        return Decimal(number)
    except InvalidOperation:
        return None


def validate_capacity(text: Any) -> Check:
    """'5kw' / '5 kW' / '5,5 kw' / '7500 W' / '1,2 MW' / '250 kVA' -> kW as a number (> 0).
    kVA (medium voltage) is taken as the registered capacity as stated."""
    numbers = _numbers(fold(as_text(text)))
    with_unit = [n for n in numbers if n[1] in _POWER_UNITS or n[1].startswith("kilo")]
    bare = [n for n in numbers if not n[1]]
    chosen = with_unit[0] if with_unit else (bare[0] if len(bare) == 1 else None)
    if chosen is None:
        return invalid("Em cần công suất là một con số, ví dụ 5 kW hoặc 5,5 kW.")
    value = _to_decimal(chosen[0])
    unit = chosen[1] or "kw"
    if value is None:
        return invalid("Em chưa đọc được con số công suất, ví dụ 5 kW hoặc 5,5 kW.")
    if unit in ("mw", "mva"):
        value *= 1000
    elif unit == "w":
        value /= 1000
    if value <= 0:
        return invalid("Công suất phải lớn hơn 0 kW.")
    if value > 100000:
        return invalid("Công suất lớn quá, anh/chị kiểm tra lại đơn vị (kW) giúp em.")
    number = float(value.quantize(Decimal("0.001")))
    return valid(int(number) if number.is_integer() else number)


PERSONS_PER_HOUSEHOLD = 4


def validate_households(text: Any) -> Check:
    """'2 hộ' / 'hai hộ' / '2' -> 2; '8 người' (renters) -> 2 households (4 persons = 1 household)."""
    folded = fold(as_text(text))
    numbers = [(int(n), u) for n, u in _numbers(folded) if n.isdigit() and u in ("", "ho", "nguoi", "ng")]
    words = [(NUMBER_WORDS[m.group(1)], m.group(2)) for m in re.finditer(
        r"\b(" + "|".join(NUMBER_WORDS) + r")\s+(ho|nguoi|ng)\b", folded)]
    with_unit = [n for n in numbers + words if n[1]]
    bare = [n for n in numbers if not n[1]]
    if with_unit:
        count, unit = with_unit[0]
    elif len(bare) == 1:
        count, unit = bare[0]
    elif folded in NUMBER_WORDS:
        count, unit = NUMBER_WORDS[folded], ""
    else:
        return invalid("Em cần số hộ dùng chung là một số từ 1 đến 50, ví dụ 2 hộ.")
    if unit in ("nguoi", "ng"):
        count = math.ceil(count / PERSONS_PER_HOUSEHOLD)
    if not 1 <= count <= 50:
        return invalid("Số hộ dùng chung phải từ 1 đến 50.")
    return valid(count)


# --------------------------------------------------------------------------- free text, email

def validate_free_text(text: Any, minimum: int = 3, maximum: int = 1000) -> Check:
    raw = re.sub(r"[ \t]+", " ", as_text(text)).strip()
    if len(raw) < minimum or not re.search(r"[^\W\d_]", raw):
        return invalid(f"Nội dung ngắn quá, anh/chị ghi rõ hơn giúp em (ít nhất {minimum} ký tự).")
    if len(raw) > maximum:
        return invalid(f"Nội dung dài quá {maximum} ký tự, anh/chị ghi gọn lại giúp em.")
    return valid(raw)


_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def validate_email(text: Any) -> Check:
    m = _EMAIL_RE.search(as_text(text))
    if not m:
        return invalid("Email chưa đúng định dạng, ví dụ an.nguyen@gmail.com.")
    return valid(m.group().lower())


# --------------------------------------------------------------------------- one entry point

def validate_slot(slot: str, value: Any, catalogue: Catalogue, today: date) -> Check:
    """Validate the answer for any form slot by name; the value stored in the slot comes back."""
    simple: dict[str, Callable[[Any], Check]] = {
        "full_name": validate_full_name,
        "phone": validate_phone,
        "id_number": validate_id_number,
        "address": validate_address,
        "capacity_kw": validate_capacity,
        "households": validate_households,
        "email": validate_email,
        "new_location": lambda v: validate_free_text(v, 3, 300),
        "description": lambda v: validate_free_text(v, 3, 1000),
    }
    if slot in simple:
        return simple[slot](value)
    if slot == "customer_code":
        check = validate_customer_code(value, catalogue)
        return valid(check.value.code) if check.ok else check
    if slot == "desired_date":
        return validate_date(value, today)
    spec = catalogue.slots.get(slot)
    if spec is not None and spec.values:
        return validate_choice(spec, value)
    return validate_free_text(value, 1, 1000)
