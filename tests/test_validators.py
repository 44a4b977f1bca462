"""bot.validators: exact normalised values for what customers type (Zalo style), and the re-ask reasons."""
from __future__ import annotations

from datetime import date

import pytest

from bot import validators as v
from bot.catalogue import load_catalogue
from bot.dates import parse_date

CAT = load_catalogue()
TODAY = date(2026, 11, 18)  # a Wednesday


# --------------------------------------------------------------------------- phone

@pytest.mark.parametrize("text", [
    "0912345678", "0912 345 678", "0912.345.678", "0912-345-678", "+84912345678", "+84 912 345 678",
    "(+84) 912-345-678", "84912345678", "0084912345678", "sđt mình là 0912345678", "sdt 0912 345 678 nha",
    "912345678",
])
def test_phone_formats(text):
    assert v.validate_phone(text).value == "0912345678"


def test_phone_old_eleven_digit_numbers_are_converted():
    assert v.validate_phone("01689123456").value == "0389123456"   # Viettel 0168 -> 038
    assert v.validate_phone("0123 456 7890").value == "0834567890"  # VinaPhone 0123 -> 083


def test_phone_found_next_to_another_number():
    assert v.validate_phone("0912 345 678 cccd 001203004567").value == "0912345678"
    assert v.validate_phone("0912345678 001203004567").value == "0912345678"


@pytest.mark.parametrize("text", ["0212345678", "091234567", "09123456789", "1234567890", "abc", ""])
def test_phone_invalid(text):
    check = v.validate_phone(text)
    assert not check.ok and check.value is None
    assert "03, 05, 07, 08 hoặc 09" in check.error


def test_phone_landline_reason():
    assert "máy bàn" in v.validate_phone("024 3825 1234").error


# --------------------------------------------------------------------------- CCCD / CMND

@pytest.mark.parametrize("text,expected", [
    ("001203004567", "001203004567"),
    ("0012 0300 4567", "001203004567"),
    ("cccd: 079.203.004.567", "079203004567"),
    ("096203004567", "096203004567"),
    ("123456789", "123456789"),          # legacy CMND
    ("cmnd 024 567 891", "024567891"),
])
def test_id_number_valid(text, expected):
    assert v.validate_id_number(text) == v.Check(value=expected)


@pytest.mark.parametrize("text", ["000203004567", "097203004567", "999203004567"])
def test_cccd_province_code_out_of_range(text):
    check = v.validate_id_number(text)
    assert check.error == (f"Số CCCD {text} có mã tỉnh {text[:3]} không hợp lệ "
                           "(3 số đầu phải từ 001 đến 096).")


@pytest.mark.parametrize("text", ["12345", "00120300456", "0012030045678", "không nhớ"])
def test_id_number_wrong_length(text):
    assert v.validate_id_number(text).error == "Số CCCD cần đủ 12 chữ số (hoặc CMND cũ 9 chữ số)."


# --------------------------------------------------------------------------- customer code and routing

@pytest.mark.parametrize("text,code,corp", [
    ("PD01000123456", "PD01000123456", "EVNHANOI"),
    ("pd01000123456", "PD01000123456", "EVNHANOI"),
    ("mã kh pd01 000 123 456 nhé", "PD01000123456", "EVNHANOI"),
    ("PE0400 1234567", "PE04001234567", "EVNHCMC"),
    ("PB04002152945", "PB04002152945", "EVNHCMC"),   # ex-Bình Dương, served by EVNHCMC
    ("PB15001234567", "PB15001234567", "EVNHCMC"),
    ("PB18001234567", "PB18001234567", "EVNCPC"),
    ("PB06001234567", "PB06001234567", "EVNSPC"),
    ("PA01HH0012345", "PA01HH0012345", "EVNNPC"),
    ("PK0100 5940580", "PK01005940580", "EVNSPC"),
    ("PC03004416672", "PC03004416672", "EVNCPC"),
    ("PD0100012345", "PD0100012345", "EVNHANOI"),     # 12 characters (6 digits) accepted
])
def test_customer_code_and_routing(text, code, corp):
    check = v.validate_customer_code(text, CAT)
    assert check.ok
    assert check.value.code == code
    assert check.value.corporation.code == corp
    assert v.validate_slot("customer_code", text, CAT, TODAY).value == code


@pytest.mark.parametrize("text", ["PD0100012345678", "XD01000123456", "PD01", "0912345678", "mã của tôi"])
def test_customer_code_bad_format(text):
    assert v.validate_customer_code(text, CAT).error == (
        "Mã khách hàng gồm 13 ký tự, bắt đầu bằng chữ P (in trên hóa đơn tiền điện).")


def test_customer_code_unknown_prefix():
    assert v.validate_customer_code("PZ01000123456", CAT).error.startswith(
        "Mã PZ01000123456 không thuộc tổng công ty điện lực nào")


# --------------------------------------------------------------------------- full name

@pytest.mark.parametrize("text,expected", [
    ("Nguyễn Văn An", "Nguyễn Văn An"),
    ("nguyễn văn an", "Nguyễn Văn An"),
    ("NGUYEN VAN AN", "Nguyen Van An"),
    ("tên mình là Trần Thị Bình", "Trần Thị Bình"),
    ("Họ tên: Lê Văn Công ạ", "Lê Văn Công"),
    ("em tên là phạm thu hà nhé", "Phạm Thu Hà"),
    ("Tô Lâm", "Tô Lâm"),
    ("Nguyễn Văn An, sđt 0912345678", "Nguyễn Văn An"),
    ("Hoàng Thị Minh Ngọc", "Hoàng Thị Minh Ngọc"),
])
def test_full_name_valid(text, expected):
    assert v.validate_full_name(text) == v.Check(value=expected)


@pytest.mark.parametrize("text,reason", [
    ("An", "Anh/chị cho em xin đầy đủ họ và tên (cả họ lẫn tên)."),
    ("0912345678", "Em chưa thấy họ tên trong tin nhắn."),
    ("không biết", "Em chưa thấy họ tên trong tin nhắn."),
    ("Nguyễn V@n An", "Họ và tên chỉ gồm chữ cái (có dấu hoặc không dấu), không có số hay ký hiệu."),
])
def test_full_name_invalid(text, reason):
    assert v.validate_full_name(text).error == reason


def test_full_name_too_long():
    assert not v.validate_full_name(" ".join(["Nguyễn"] * 15)).ok


# --------------------------------------------------------------------------- address

@pytest.mark.parametrize("text,expected", [
    ("Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội", "Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội"),
    ("thôn 3, xã Hải Hậu, tỉnh Ninh Bình", "thôn 3, xã Hải Hậu, tỉnh Ninh Bình"),
    ("12 Lê Lợi, Q1, HCM", "12 Lê Lợi, Q1, HCM"),
    ("xom 2 xa nghi phong huyen nghi loc nghe an", "xom 2 xa nghi phong huyen nghi loc nghe an"),
    ("địa chỉ nhà mình là số 5 ngõ 10 Kim Mã, phường Ngọc Hà, Hà Nội", "số 5 ngõ 10 Kim Mã, phường Ngọc Hà, Hà Nội"),
    ("ấp Bình Thạnh, xã Đức Hòa, Tây Ninh", "ấp Bình Thạnh, xã Đức Hòa, Tây Ninh"),
])
def test_address_valid(text, expected):
    assert v.validate_address(text) == v.Check(value=expected)


@pytest.mark.parametrize("text,reason", [
    ("Số 5 Lê Lợi, phường Bến Thành", "Địa chỉ còn thiếu tỉnh/thành phố."),
    ("Số 5 Lê Lợi, Hà Nội", "Địa chỉ còn thiếu phường/xã."),
    ("phường Bến Thành, TP Hồ Chí Minh", "Địa chỉ còn thiếu số nhà/đường (hoặc thôn, xóm)."),
    ("Hà Nội", "Địa chỉ ngắn quá; em cần số nhà/đường (hoặc thôn, xóm, ấp), phường/xã và tỉnh/thành phố."),
])
def test_address_invalid(text, reason):
    assert v.validate_address(text).error == reason


# --------------------------------------------------------------------------- choices from the catalogue words

@pytest.mark.parametrize("slot,text,code", [
    ("usage_purpose", "sinh hoạt", "residential"),
    ("usage_purpose", "sinh hoat gia dinh", "residential"),
    ("usage_purpose", "ngoài sinh hoạt", "non_residential"),
    ("usage_purpose", "để kinh doanh quán ăn", "non_residential"),
    ("usage_purpose", "residential", "residential"),
    ("usage_purpose", '/inform{"usage_purpose":"non_residential"}', "non_residential"),
    ("phase", "1 pha", "1"),
    ("phase", "ba pha", "3"),
    ("phase", "3pha", "3"),
    ("phase", "3", "3"),
    ("payment_method", "momo", "e_wallet"),
    ("payment_method", "Ví điện tử", "e_wallet"),
    ("payment_method", "trich no tu dong", "auto_debit"),
    ("payment_method", "chuyển khoản ngân hàng", "bank_transfer"),
    ("payment_method", "tiền mặt tại quầy", "counter"),
])
def test_choices(slot, text, code):
    assert v.validate_slot(slot, text, CAT, TODAY) == v.Check(value=code)


def test_choice_unknown_lists_the_options():
    assert v.validate_slot("phase", "không rõ", CAT, TODAY).error == (
        "Em chưa rõ loại công tơ anh/chị chọn; anh/chị chọn một trong: 1 pha / 3 pha.")


# --------------------------------------------------------------------------- dates (today = Wed 18/11/2026)

@pytest.mark.parametrize("text,expected", [
    ("ngày mai", "2026-11-19"),
    ("mai", "2026-11-19"),
    ("mai nhé", "2026-11-19"),
    ("ngay mai", "2026-11-19"),
    ("hôm nay", "2026-11-18"),
    ("ngày mốt", "2026-11-20"),
    ("thứ 2 tuần sau", "2026-11-23"),
    ("thứ hai tuần sau", "2026-11-23"),
    ("thu hai tuan sau", "2026-11-23"),
    ("t6 tuần sau", "2026-11-27"),
    ("thứ 6", "2026-11-20"),
    ("thứ tư", "2026-11-18"),
    ("chủ nhật", "2026-11-22"),
    ("15/12", "2026-12-15"),
    ("15-12", "2026-12-15"),
    ("15/12/2026", "2026-12-15"),
    ("15/12/26", "2026-12-15"),
    ("5/1", "2027-01-05"),                 # already past this year: next year
    ("ngày 20 tháng 12", "2026-12-20"),
    ("3 ngày nữa", "2026-11-21"),
])
def test_dates(text, expected):
    assert v.validate_date(text, TODAY) == v.Check(value=expected)


def test_parse_date_reads_the_text_without_range_checks():
    assert parse_date("thứ hai tuần sau", TODAY) == date(2026, 11, 23)
    assert parse_date("15/11/2026", TODAY) == date(2026, 11, 15)  # in the past: validate_date refuses it
    assert parse_date("lúc nào cũng được", TODAY) is None


def test_date_in_the_past():
    assert v.validate_date("15/11/2026", TODAY).error == (
        "Ngày 15/11/2026 đã qua; anh/chị chọn từ hôm nay (18/11/2026) trở đi.")


def test_date_too_far_and_unknown():
    assert "xa quá" in v.validate_date("15/12/2028", TODAY).error
    assert v.validate_date("lúc nào cũng được", TODAY).error.startswith("Em chưa hiểu ngày")
    assert not v.validate_date("31/02", TODAY).ok


# --------------------------------------------------------------------------- numbers with units

@pytest.mark.parametrize("text,expected", [
    ("5kw", 5), ("5 kW", 5), ("5 KW", 5), ("5,5 kw", 5.5), ("5.5kw", 5.5), ("7500 W", 7.5),
    ("1,2 MW", 1200), ("250 kVA", 250), ("10", 10), ("nâng lên 3 pha 15kw", 15), ("1.500 kw", 1500),
])
def test_capacity(text, expected):
    assert v.validate_capacity(text) == v.Check(value=expected)


@pytest.mark.parametrize("text", ["0 kw", "abc", "3 pha"])
def test_capacity_invalid(text):
    assert not v.validate_capacity(text).ok


@pytest.mark.parametrize("text,expected", [
    ("2 hộ", 2), ("2", 2), ("hai hộ", 2), ("ba", 3), ("nhà có 3 hộ dùng chung", 3), ("8 người", 2),
    ("phòng trọ 9 người", 3), ("50", 50),
])
def test_households(text, expected):
    assert v.validate_households(text) == v.Check(value=expected)


@pytest.mark.parametrize("text", ["0", "51", "nhiều lắm"])
def test_households_invalid(text):
    assert not v.validate_households(text).ok


# --------------------------------------------------------------------------- free text, email

def test_description_and_location():
    assert v.validate_slot("description", "  Nhà tôi mất điện từ 7 giờ sáng  ", CAT, TODAY).value == (
        "Nhà tôi mất điện từ 7 giờ sáng")
    assert not v.validate_slot("description", "ab", CAT, TODAY).ok
    assert not v.validate_slot("description", "x" * 1001, CAT, TODAY).ok
    assert not v.validate_slot("description", "12345", CAT, TODAY).ok
    assert v.validate_slot("new_location", "ra cột điện đầu ngõ", CAT, TODAY).value == "ra cột điện đầu ngõ"


def test_email():
    assert v.validate_email("mail là An.Nguyen@Gmail.com nhé").value == "an.nguyen@gmail.com"
    assert not v.validate_email("an.nguyen@gmail").ok
