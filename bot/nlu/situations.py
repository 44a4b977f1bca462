"""Services told as a situation rather than named, for the dialogue.

Customers often describe why they write instead of naming the service: "quán mới lắp thêm 2 máy
lạnh" (capacity change), "tôi đã trả hết nợ rồi" (reconnection), "mới mua lại căn nhà này"
(holder change). The NLU's `service` entity needs the service's own wording; these cues let the
dialogue understand the reply to "which service?" and a request without a service name. A cue only
counts when no catalogue wording matched (bot.nlu.mentions.parse_service first), and an outage
description is recognised separately (`describes_outage`) so a complaint about a power cut
happening now can be offered the outage report.
"""
from __future__ import annotations

import re
from typing import Optional

from bot.text import fold

# Folded (accent-free) cue phrases per service code; matched on word boundaries, longest cue wins.
SITUATION_CUES: dict[str, tuple[str, ...]] = {
    "capacity_change": (
        "may lanh", "dieu hoa", "bep tu", "bep dien", "binh nong lanh", "may han", "may bom", "lo nuong",
        "khong du tai", "qua tai", "nhay aptomat", "nhay at", "nhay cau dao", "tai lon", "them thiet bi",
        "them may", "cong suat lon", "cong suat cao", "len 3 pha", "3 pha", "ba pha",
    ),
    "new_connection_lv": (
        "nha moi xay", "moi xay nha", "xay nha moi", "xay xong nha", "moi xay xong", "chua co dien",
        "chua co cong to", "chua co dong ho", "nha moi", "dat moi mua", "moi mua dat", "chua duoc cap dien",
        "keo dien ve", "cat nha moi",
    ),
    "new_connection_mv": ("nha xuong", "khu cong nghiep", "kva", "tram rieng", "nha may"),
    "reconnection": (
        "da tra no", "tra het no", "tra no roi", "da dong tien", "dong tien roi", "da thanh toan",
        "thanh toan roi", "dong du roi", "tra du roi", "bi cat vi no", "cat vi no", "cat do no", "no tien dien",
        "dong dien lai", "mo dien lai", "co dien lai",
    ),
    "holder_change": (
        "mua lai nha", "mua lai can nha", "mua nha", "ban nha", "chu cu", "chu nha cu", "chu moi",
        "nguoi cu dung ten", "qua doi", "da mat", "thua ke", "sang ten",
    ),
    "purpose_change": (
        "mo quan", "mo cua hang", "mo tiem", "mo shop", "de kinh doanh", "lam kinh doanh", "chuyen sang kinh doanh",
        "khong kinh doanh nua", "nghi kinh doanh", "dong cua quan",
    ),
    "quota_change": (
        "cho thue tro", "phong tro", "nha tro", "nhieu ho", "o chung", "them nguoi o", "them ho", "dinh muc",
        "nguoi thue",
    ),
    "meter_relocation": (
        "sua nha", "xay lai nha", "nang nen", "mo rong nha", "vuong cong to", "vuong dong ho", "cong to vuong",
        "dong ho vuong", "doi cho cong to", "ra ngoai cot",
    ),
    "meter_inspection": (
        "chay nhanh", "quay nhanh", "nhay so", "chay sai", "nghi cong to", "nghi dong ho", "cong to hong",
        "dong ho hong", "kiem dinh",
    ),
    "contract_termination": (
        "khong o nua", "pha nha", "do nha", "thao cong to", "khong dung dien nua", "khong dung nua",
        "chuyen di noi khac",
    ),
    "payment_method_change": (
        "trich tu dong", "tu dong tru", "tu dong thanh toan", "uy nhiem thu", "thanh toan qua ngan hang",
        "tru tien tai khoan",
    ),
    "info_change": ("doi so dien thoai", "so dien thoai moi", "doi sim", "doi email", "email moi"),
}

# Power cut or grid incident happening (not a tariff, a schedule or a past outage only).
_OUTAGE_RE = re.compile(
    r"\b(mat dien|cup dien|cup den|cat dien|khong co dien|chua co dien lai|chua co dien|mat dien lai|"
    r"dut day|day dien dut|cot dien (bi )?do|chay no|no tram|chap dien|sup ap|dien yeu|dien chap chon)\b")
_SCHEDULE_RE = re.compile(r"\b(lich (cat|cup|mat|ngung)|cat dien theo ke hoach|thong bao cat dien)\b")
_NOW_RE = re.compile(r"\b(dang|van|chua|bay gio|gio nay|hien|tu sang|tu chieu|tu toi|tu trua|tu hom qua|tu dem|"
                     r"may tieng|nay|lai)\b")
_PAST_ONLY_RE = re.compile(r"\b(tuan truoc|thang truoc|hom truoc|lan truoc|nam ngoai|hoi truoc|thuong xuyen|"
                           r"hay bi|lien tuc|may lan|nhieu lan)\b")


def _words(text: str) -> str:
    return " " + re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", fold(text or ""))).strip() + " "


def guess_service(text: str) -> Optional[str]:
    """The service a described situation asks for ("nhà mới xây chưa có điện" -> new_connection_lv), by
    the longest cue; None when no cue matches or two services tie."""
    words = _words(text)
    best: Optional[str] = None
    best_len, tie = 0, False
    for code, cues in SITUATION_CUES.items():
        for cue in cues:
            if f" {cue} " in words and len(cue) >= best_len:
                tie = len(cue) == best_len and best not in (None, code)
                best, best_len = code, len(cue)
    return None if tie else best


def describes_outage(text: str) -> bool:
    """The message tells of a power cut or incident happening now ("mất điện từ sáng mà gọi không ai
    nghe"), not a planned-outage schedule or only past ones ("tuần trước mất điện 3 lần")."""
    words = _words(text)
    if not _OUTAGE_RE.search(words) or _SCHEDULE_RE.search(words):
        return False
    return not (_PAST_ONLY_RE.search(words) and not _NOW_RE.search(words))
