"""Vietnamese chat lexicon: shorthand (teencode), particles and emoji used by the normaliser.

Sources: the teencode table of the project reference (consensus of public normalisation
dictionaries) and the domain short forms seen in EVN customer material. Keys are lower-case NFC.
Context-dependent short forms (dc, dk, hđ, kh, a, m, bn, tk, tt, hd, k) are resolved in
`bot.nlu.normalizer.expand_shorthand`, not here.
"""
from __future__ import annotations

# Unambiguous short forms -> expansion (may be several words).
SHORTHAND: dict[str, str] = {
    # negation
    "ko": "không", "kô": "không", "k0": "không", "hk": "không", "hok": "không", "hông": "không",
    "khum": "không", "hem": "không", "kg": "không", "khg": "không", "khong": "không",
    "k'": "không", "kh0ng": "không", "kp": "không phải", "hơm": "không",
    # được
    "đc": "được", "dcd": "được", "đươc": "được", "duoc": "được",
    # question words
    "j": "gì", "gj": "gì", "ntn": "như thế nào", "bnh": "bao nhiêu",
    "bnhiu": "bao nhiêu", "bnhieu": "bao nhiêu", "nhìu": "nhiều", "s": "sao",
    # pronouns
    "mik": "mình", "mk": "mình", "mjk": "mình", "mìk": "mình", "mh": "mình", "mềnh": "mình",
    "e": "em", "c": "chị", "cj": "chị", "b": "bạn", "t": "tôi",
    "ng": "người", "mn": "mọi người", "mng": "mọi người", "ad": "ad", "admin": "ad",
    "sốp": "shop",
    # regional (Central: răng/rứa/ni/tê; South: hổng/thui)
    "răng": "sao", "rứa": "vậy", "ni": "này", "tê": "kia", "hổng": "không", "thui": "thôi",
    "hông": "không",
    # verbs / common words
    "vs": "với", "r": "rồi", "rùi": "rồi", "roài": "rồi", "rầu": "rồi", "oy": "rồi", "ròi": "rồi",
    "cx": "cũng", "cg": "cũng", "z": "vậy", "v": "vậy", "zậy": "vậy", "dzậy": "vậy", "zị": "vậy",
    "vại": "vậy", "ms": "mới", "trc": "trước", "bh": "bây giờ", "bjo": "bây giờ", "bgio": "bây giờ",
    "h": "giờ", "jờ": "giờ", "ib": "nhắn tin", "inbox": "nhắn tin",
    "nt": "nhắn tin", "xl": "xin lỗi", "sr": "xin lỗi", "sorry": "xin lỗi", "wa": "quá", "qá": "quá",
    "wá": "quá", "bik": "biết", "bít": "biết", "lm": "làm", "hnay": "hôm nay", "hnai": "hôm nay",
    "hqua": "hôm qua", "nv": "nhân viên", "mún": "muốn", "mốn": "muốn", "lun": "luôn",
    "thik": "thích", "đag": "đang", "dag": "đang", "pls": "giúp", "plz": "giúp",
    "tks": "cảm ơn", "thks": "cảm ơn", "thanks": "cảm ơn", "thank": "cảm ơn", "thx": "cảm ơn",
    "tkss": "cảm ơn", "ths": "cảm ơn", "camon": "cảm ơn", "cámơn": "cảm ơn", "cảmơn": "cảm ơn",
    "thankyou": "cảm ơn", "oke": "ok", "okie": "ok", "okê": "ok", "oki": "ok", "okey": "ok", "okay": "ok", "okela": "ok",
    "okla": "ok", "oce": "ok", "uki": "ok",
    "uh": "ừ", "uk": "ừ", "uhm": "ừ", "um": "ừ", "ừm": "ừ", "ừa": "ừ", "ờ": "ừ", "ờm": "ừ",
    "ak": "à", "ah": "à", "hả": "hả", "alô": "alo", "aloo": "alo",
    "kt": "kiểm tra", "ktra": "kiểm tra", "dky": "đăng ký", "đky": "đăng ký", "đkí": "đăng ký",
    "dki": "đăng ký", "kí": "ký", "lí": "lý", "quí": "quý",
    # domain short forms
    "sdt": "số điện thoại", "sđt": "số điện thoại", "sdth": "số điện thoại", "std": "số điện thoại",
    "đt": "điện thoại", "dt": "điện thoại", "đthoai": "điện thoại", "dthoai": "điện thoại",
    "đ/c": "địa chỉ", "d/c": "địa chỉ", "đchỉ": "địa chỉ", "dchi": "địa chỉ",
    "makh": "mã khách hàng", "mkh": "mã khách hàng", "cskh": "chăm sóc khách hàng",
    "hđmbđ": "hợp đồng mua bán điện", "hdmbd": "hợp đồng mua bán điện",
    "đl": "điện lực", "dv": "dịch vụ", "cty": "công ty", "sx": "sản xuất",
    "kd": "kinh doanh", "sh": "sinh hoạt", "nsh": "ngoài sinh hoạt", "ctơ": "công tơ",
    "mđ": "mục đích", "md": "mục đích", "sd": "sử dụng",
    "cto": "công tơ", "đhđ": "đồng hồ điện", "dhd": "đồng hồ điện",
    "đh": "đồng hồ", "p": "phường", "q": "quận", "tp": "thành phố", "tx": "thị xã", "thg": "tháng", "thág": "tháng", "ck": "chuyển khoản", "hs": "hồ sơ",
    "ycau": "yêu cầu", "yc": "yêu cầu", "tđ": "tổng đài", "hotline": "hotline",
    # particles (canonical: nhé, ạ, nha -> nhé)
    "nha": "nhé", "nhe": "nhé", "nhá": "nhé", "nhen": "nhé", "nghen": "nhé", "nhaa": "nhé",
    "nhoé": "nhé", "nhóe": "nhé", "ná": "nhé", "nà": "nhé", "hen": "nhé",
    "ạk": "ạ", "ạh": "ạ", "ợ": "ạ",
}

# Emoji that carry a meaning in customer chats (others are dropped by the tokenizer).
EMOJI: dict[str, str] = {
    "👍": "ok", "👌": "ok", "🆗": "ok", "✅": "ok", "🙏": "cảm ơn", "👋": "chào",
    "❤": "cảm ơn", "❤️": "cảm ơn", "😡": "bực", "😤": "bực", "🤬": "bực", "👎": "không",
}

# Pronouns (used to resolve "hd" = hướng dẫn, "a" = anh, "bn" = bạn).
PRONOUNS = {"em", "e", "anh", "a", "chị", "c", "mình", "tôi", "tui", "bạn", "b", "cô", "chú",
            "bác", "ad", "shop", "mik", "mk", "t", "con", "cháu"}

# Words that, around "hđ/hd", mean "hóa đơn" (bill) ...
BILL_CUES = {"tiền", "tháng", "thanh", "toán", "in", "xuất", "điện tử", "tra", "trả", "đóng",
             "nộp", "nợ", "gửi", "nhận", "kỳ", "cao", "bao", "nhiêu", "số", "tien", "thang",
             "tra", "dong", "no", "nhan", "ky"}
# ... and "hợp đồng" (contract).
CONTRACT_CUES = {"gia", "hạn", "chấm", "dứt", "thanh", "lý", "ký", "sang", "tên", "mua", "bán",
                 "chủ", "hủy", "cắt", "ngừng", "hết", "han", "cham", "dut", "ly", "ky", "ten",
                 "chu", "huy", "cat", "ngung", "het", "đứng", "dung", "gia hạn"}

# Words after "dc" meaning it is "địa chỉ" rather than "được".
ADDRESS_AFTER = {"là", "nhà", "mới", "cũ", "của", "la", "nha", "moi", "cu", "cua", "lắp",
                 "lap", "nhận", "nhan", "ở", "o", "sử", "su", "ghi", "email", "mail"}
ADDRESS_BEFORE = {"sửa", "sai", "đổi", "nhầm", "lộn", "ghi", "nhập", "cập", "nhật", "chỉnh",
                  "thay", "sua", "doi", "nham", "lon", "nhap", "cap", "nhat", "chinh", "cái",
                  "cai", "phần", "phan", "mục", "muc", "với", "voi", "và", "va", "lại", "lai"}
# Words after "đk/dk" meaning "được" (otherwise it is "đăng ký" when a verb/noun follows).
DUOC_AFTER = {"không", "ko", "k", "hok", "hông", "khum", "kh", "chưa", "chua", "ạ", "a", "nhé",
              "nha", "hả", "ha", "hem", "hk", "khong", "hong", "ko?", "k?", "hay", "rồi", "roi",
              "r", "đâu", "dau", "luôn", "luon", "thì", "thi", "mà", "ma", "nữa", "nua", "vậy",
              "z", "v", "?", "nhe", "nhá", "đó", "do"}
# Number-followed short forms: "500 k" = 500 nghìn, "10 m" = 10 mét.
NUMBER_UNITS = {"k": "nghìn", "m": "mét", "h": "giờ", "tr": "triệu", "đ": "đồng", "v": "vôn"}

# Phrases that look like a service phrase but are not a request for it ("lịch cắt điện" is the
# planned-outage schedule, "tiền điện" is the bill): they consume the words and yield no entity.
SERVICE_BLOCKERS = (
    "lịch cắt điện", "lịch mất điện", "lịch cúp điện", "lịch ngừng cấp điện", "lịch ngắt điện",
    "lịch cắt điện", "thông báo cắt điện", "cắt điện theo lịch", "cắt điện theo kế hoạch",
    "tiền điện", "giá điện", "tổng đài", "hóa đơn điện", "cắt điện để sửa chữa",
    "mất điện thoại", "ngừng cấp điện", "tạm ngừng cấp điện", "ngừng cung cấp điện",
    "tạm dừng cấp điện", "dừng cấp điện", "kế hoạch cắt điện", "cắt điện bảo trì",
    "cắt điện bảo dưỡng", "cúp điện bảo trì",
)

# Service synonyms that only describe the place ("phòng trọ" -> quota_change): dropped when the message
# names another service ("cắt hợp đồng điện cho phòng trọ cũ" is a termination).
WEAK_SERVICE_PHRASES = ("phòng trọ", "nhà trọ", "người thuê trọ")

# A `field` entity is only emitted in a correction: intent correct_field, or one of these cue
# phrases in the message (matched like service phrases: exact where the customer typed accents,
# accent-free where they did not, so "hành chính" is not "chỉnh" and "dời" is not "đổi").
CORRECTION_CUES = (
    "sai", "sửa", "nhầm", "đổi", "chỉnh lại", "chỉnh sửa", "nhập lại", "ghi lại", "điền lại",
    "thay", "cập nhật", "không đúng", "chưa đúng", "không phải", "quên", "thiếu", "xóa",
    "bổ sung", "nhập lộn", "ghi lộn", "gõ lộn", "lộn rồi", "gõ nhầm",
)
