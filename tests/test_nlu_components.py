"""Tests of the Vietnamese NLU components (bot/nlu): normaliser, tokenizer, pattern and phrase
entities, services/fields/questions in free text. Exact expected values and offsets into the original text."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.catalogue import load_catalogue
from bot.nlu.mentions import parse_field, parse_service
from bot.nlu.normalizer import analyse, fold_view, normalise, place_tone
from bot.nlu.patterns import find_patterns
from bot.nlu.questions import looks_like_question

CAT = load_catalogue()


# ---------------------------------------------------------------------------- normaliser

@pytest.mark.parametrize("word, expected", [
    ("hoà", "hòa"), ("thuỷ", "thủy"), ("Hoà", "Hòa"), ("HOÀ", "HÒA"), ("khoẻ", "khỏe"),
    ("qúa", "quá"), ("gìa", "già"), ("muá", "múa"), ("tíên", "tiến"), ("hoàng", "hoàng"), ("thuý", "thúy"),
    ("khuỷu", "khuỷu"), ("ngoài", "ngoài"), ("quý", "quý"), ("gìn", "gìn"), ("tuổi", "tuổi"),
    ("uỷ", "ủy"), ("huỳnh", "huỳnh"),
])
def test_tone_placement_is_the_classic_style(word: str, expected: str) -> None:
    assert place_tone(word) == expected


def test_nfd_input_is_composed_and_offsets_index_the_original() -> None:
    text = unicodedata.normalize("NFD", "Hoà Bình mất điện")
    pieces = analyse(text)
    assert [p.norm for p in pieces] == ["hòa", "bình", "mất", "điện"]
    assert [text[p.start:p.end] for p in pieces] == text.split()
    assert unicodedata.normalize("NFC", text[pieces[0].start:pieces[0].end]) == "Hoà"


@pytest.mark.parametrize("text, expected", [
    ("E mún lắp đồng hồ đc ko ạ", "em muốn lắp đồng hồ được không ạ"),
    ("mik hok bik j hết", "mình không biết gì hết"),
    ("mk k hiểu, làm ntn a", "mình không hiểu làm như thế nào ạ"),
    ("cho a hỏi bn tiền", "cho anh hỏi bao nhiêu tiền"),
    ("c ơi tks nha", "chị ơi cảm ơn nhé"),
    ("hđ tháng này bn tiền", "hóa đơn tháng này bao nhiêu tiền"),
    ("gia hạn hđ điện", "gia hạn hợp đồng điện"),
    ("dc nhà mình là 12 ngõ 5", "địa chỉ nhà mình là 12 ngõ 5"),
    ("sai dc rồi", "sai địa chỉ rồi"),
    ("lắp dc ko", "lắp được không"),
    ("cho mình đk lắp điện mới", "cho mình đăng ký lắp điện mới"),
    ("có đk ko", "có được không"),
    ("mã kh của e", "mã khách hàng của em"),
    ("sđt với sdt", "số điện thoại với số điện thoại"),
    ("alooo ad ơiii", "alo ad ơi"),
    ("tiền điện 500 k", "tiền điện 500 nghìn"),
    ("nhà e mất đ từ 7 h", "nhà em mất điện từ 7 giờ"),
    ("hum nay cúp điện hk", "hôm nay cúp điện không"),
    ("ok,thanks 👍", "ok cảm ơn ok"),
    ("Ðiện lực", "điện lực"),
    ("cccd", "cccd"),
])
def test_normalise_expands_shorthand(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_fold_view_is_accent_free() -> None:
    assert fold_view("Điện lực Hà Nội, đc ko?") == "dien luc ha noi duoc khong"
    assert fold_view("toi muon lap cong to moi") == fold_view("tôi muốn lắp công tơ mới")


def test_pattern_entities_become_placeholders() -> None:
    assert normalise("sđt mình là 0912 345 678 nha") == "số điện thoại mình là zzphone nhé"
    assert normalise("mã PD01000123456, cccd 001203004567") == "mã zzmakh cccd zzcccd"


# ---------------------------------------------------------------------------- tokenizer

def test_tokenizer_text_lemma_and_offsets() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.tokenizer import VietnameseTokenizer

    text = "E mún dời cto, sđt 0912.345.678"
    tokens = VietnameseTokenizer({}).tokenize(Message(data={"text": text}), "text")
    assert [t.text for t in tokens] == ["em", "muốn", "dời", "công tơ", "số điện thoại", "zzphone"]
    assert [t.lemma for t in tokens] == ["em", "muon", "doi", "cong to", "so dien thoai", "zzphone"]
    assert [text[t.start:t.end] for t in tokens] == ["E", "mún", "dời", "cto", "sđt", "0912.345.678"]


def test_tokenizer_with_pyvi_segmentation_keeps_offsets() -> None:
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.tokenizer import VietnameseTokenizer

    text = "tổng đài điện lực số mấy"
    tokens = VietnameseTokenizer({"segmenter": "pyvi"}).tokenize(Message(data={"text": text}), "text")
    assert [t.text for t in tokens] == ["tổng_đài", "điện_lực", "số", "mấy"]
    assert [text[t.start:t.end] for t in tokens] == ["tổng đài", "điện lực", "số", "mấy"]


# ---------------------------------------------------------------------------- patterns

def _found(text: str) -> list[tuple[str, str, str]]:
    return [(m.entity, text[m.start:m.end], m.value) for m in find_patterns(text)]


@pytest.mark.parametrize("raw", [
    "0912345678", "0912 345 678", "0912.345.678", "0912-345-678", "091 234 5678",
    "+84 912 345 678", "+84912345678", "84912345678", "(+84) 912 345 678", "+84 (0) 912 345 678",
])
def test_phone_formats_in_a_sentence(raw: str) -> None:
    text = f"sđt mình là {raw} nha"
    assert _found(text) == [("phone", raw, "0912345678")]


def test_two_phones_and_hotline() -> None:
    text = "gọi 0912345678 hoặc 0987 654 321, không phải 1900 1288"
    assert _found(text) == [("phone", "0912345678", "0912345678"),
                            ("phone", "0987 654 321", "0987654321")]


@pytest.mark.parametrize("raw, value", [
    ("079203004567", "079203004567"), ("079 203 004 567", "079203004567"),
    ("0792 0300 4567", "079203004567"), ("012345678", "012345678"),
])
def test_id_numbers_are_not_phones(raw: str, value: str) -> None:
    text = f"cccd của tôi: {raw}."
    assert _found(text) == [("id_number", raw, value)]


def test_id_number_and_phone_together() -> None:
    text = "CCCD 038095001234, sdt 0987654321"
    assert _found(text) == [("id_number", "038095001234", "038095001234"),
                            ("phone", "0987654321", "0987654321")]


@pytest.mark.parametrize("raw, value", [
    ("pd01000123456", "PD01000123456"), ("PE0400123456", "PE0400123456"),
    ("Pb04001234567", "PB04001234567"), ("PK030001234", "PK030001234"),
])
def test_customer_codes_any_case(raw: str, value: str) -> None:
    text = f"mã kh:{raw}, tra giúp"
    assert _found(text) == [("customer_code", raw, value)]


def test_not_customer_codes() -> None:
    assert _found("PD0100012345678") == []  # too many digits
    assert _found("XD01000123456") == []


@pytest.mark.parametrize("raw", ["YC7K4M9P", "yc7k4m9p", "yc-7k4m9p", "YC 7K4M9P"])
def test_request_codes(raw: str) -> None:
    text = f"tra hồ sơ {raw} giúp em"
    assert _found(text) == [("request_code", raw, "YC7K4M9P")]


def test_yc_shorthand_is_not_a_request_code() -> None:
    assert _found("gửi yc chuyen cong to") == []


def test_email() -> None:
    text = "mail: An.Nguyen@Gmail.com nhé"
    assert _found(text) == [("email", "An.Nguyen@Gmail.com", "an.nguyen@gmail.com")]


# ---------------------------------------------------------------------------- service / field

@pytest.fixture(scope="module")
def extractor():
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.extractor import VietnameseEntityExtractor

    synonyms = load_data(str(PROJECT_ROOT / "data" / "nlu" / "synonyms.yml")).entity_synonyms
    return VietnameseEntityExtractor({}, None, None, synonyms=synonyms)  # type: ignore[arg-type]


def _ents(extractor, text: str, intent: str | None = None, types=("service", "field")):
    return [(e["entity"], e["value"], text[e["start"]:e["end"]])
            for e in extractor.extract(text, intent) if e["entity"] in types]


@pytest.mark.parametrize("text, value, span", [
    ("tôi muốn lắp công tơ mới", "new_connection_lv", "lắp công tơ mới"),
    ("toi muon lap cong to moi", "new_connection_lv", "lap cong to moi"),
    ("e mún lắp đồng hồ điện mới đc ko ạ", "new_connection_lv", "lắp đồng hồ điện mới"),
    ("cho mình lắp cái công tơ điện mới với", "new_connection_lv", "lắp cái công tơ điện mới"),
    ("đăng ký cấp điện trung áp 22kv", "new_connection_mv", "đăng ký cấp điện trung áp"),
    ("di doi cong to can giay to gi", "meter_relocation", "di doi cong to"),
    ("dời đồng hồ điện sang cột bên kia", "meter_relocation", "dời đồng hồ điện"),
    ("di dời công tở", "meter_relocation", "di dời công tở"),  # accent typo: folded pass
    ("đổi công tơ 3 pha", "capacity_change", "đổi công tơ 3 pha"),
    ("tang cong suat dong ho dien", "capacity_change", "tang cong suat"),
    ("cho mình sang tên hợp đồng điện", "holder_change", "sang tên hợp đồng điện"),
    ("doi ten chu hop dong dien", "holder_change", "doi ten chu hop dong dien"),
    ("phải đổi mục đích sử dụng điện ko", "purpose_change", "đổi mục đích sử dụng điện"),
    ("muốn tăng định mức", "quota_change", "tăng định mức"),
    ("đổi sđt nhận tin nhắn", "info_change", "đổi sđt"),
    ("doi hinh thuc thanh toan sang momo", "payment_method_change", "doi hinh thuc thanh toan"),
    ("gia hạn hđ giúp em", "contract_renewal", "gia hạn hđ"),
    ("cắt hợp đồng điện nhà cũ", "contract_termination", "cắt hợp đồng điện"),
    ("dong ho dien chay nhanh qua", "meter_inspection", "dong ho dien chay nhanh"),
    ("đóng đ lại giúp e", "reconnection", "đóng đ lại"),
    ("nhà e cúp điện từ sáng", "outage_report", "cúp điện"),
    ("khiếu nại nhân viên ghi sai chỉ số", "complaint", "khiếu nại"),
])
def test_service_phrases(extractor, text: str, value: str, span: str) -> None:
    assert _ents(extractor, text) == [("service", value, span)]


@pytest.mark.parametrize("text, intent", [
    ("mất bao nhiêu tiền điện", None),
    ("lịch cắt điện phường 5 ngày mai", None),
    ("cho tôi xem lịch tạm ngừng cấp điện", None),
    ("mai khu mình có cắt điện không", "check_outage_schedule"),
    ("sửa thông tin vừa nhập", "correct_field"),
])
def test_no_service(extractor, text: str, intent) -> None:
    assert _ents(extractor, text, intent, types=("service",)) == []


def test_reconnection_wins_over_outage(extractor) -> None:
    text = "bị cắt điện vì quên đóng tiền, đóng rồi bao giờ có điện lại"
    assert [e[1] for e in _ents(extractor, text)] == ["reconnection"]


@pytest.mark.parametrize("text, intent, value, span", [
    ("sai số điện thoại rồi", None, "phone", "số điện thoại"),
    ("sai so dien thoai roi", None, "phone", "so dien thoai"),
    ("sđt sai r e", "correct_field", "phone", "sđt"),
    ("sửa lại dc giúp mk", None, "address", "dc"),
    ("tên bị sai", "correct_field", "full_name", "tên"),
    ("ghi nhầm cccd rồi", None, "id_number", "cccd"),
    ("nhập lại mã kh giúp em", None, "customer_code", "mã kh"),
    ("sai loại công tơ, 3 pha mới đúng", None, "phase", "loại công tơ"),
    ("mình muốn đổi ngày hẹn", None, "desired_date", "ngày hẹn"),
    ("hình thức thanh toán không phải như vậy", None, "payment_method", "hình thức thanh toán"),
])
def test_field_phrases(extractor, text: str, intent, value: str, span: str) -> None:
    assert _ents(extractor, text, intent) == [("field", value, span)]


@pytest.mark.parametrize("text", [
    "sđt mình là 0912 345 678 nha",  # no correction: value only
    "số điện thoại liên hệ 0977 123 456, gọi giờ hành chính",  # "chính" is not "chỉnh"
    "dời cto mất bn ngày",  # "dời" is not "đổi"
])
def test_no_field_without_correction(extractor, text: str) -> None:
    assert _ents(extractor, text, types=("field",)) == []


def test_service_beats_field_outside_corrections(extractor) -> None:
    assert _ents(extractor, "cho mình đổi số điện thoại") == [("service", "info_change", "đổi số điện thoại")]
    assert _ents(extractor, "cho mình đổi số điện thoại", "correct_field") == [
        ("field", "phone", "số điện thoại")]


def test_process_sets_entities_with_offsets(extractor) -> None:
    from rasa.shared.nlu.training_data.message import Message

    text = "Sai sđt rồi, đúng là +84 987 654 321 nha"
    message = Message(data={"text": text, "intent": {"name": "correct_field", "confidence": 0.9}})
    extractor.process([message])
    got = [(e["entity"], e["value"], text[e["start"]:e["end"]], e["extractor"]) for e in message.get("entities")]
    assert got == [("field", "phone", "sđt", "VietnameseEntityExtractor"),
                   ("phone", "0987654321", "+84 987 654 321", "VietnameseEntityExtractor")]


# ---------------------------------------------------------------------------- configuration

def test_config_pipeline_components_are_registered() -> None:
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    import bot.nlu.extractor  # noqa: F401  (registers the components)
    import bot.nlu.tokenizer  # noqa: F401

    config = yaml.safe_load(Path(PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert "bot.nlu.tokenizer.VietnameseTokenizer" in names
    assert "bot.nlu.extractor.VietnameseEntityExtractor" in names
    for name in names:
        assert DefaultV1Recipe._from_registry(name) is not None


# ---------------------------------------------------------------------------- free text read by the dialogue

@pytest.mark.parametrize("text,code", [
    ("meter_relocation", "meter_relocation"), ("di dời công tơ", "meter_relocation"),
    ("di doi cong to", "meter_relocation"), ("sang tên hợp đồng điện", "holder_change"),
    ("nhà tôi mất điện", "outage_report"), ("Cấp điện mới từ lưới điện hạ áp (220/380V)", "new_connection_lv"),
])
def test_parse_service(text, code):
    assert parse_service(text, CAT) == code


@pytest.mark.parametrize("text,field", [
    ("phone", "phone"), ("sai số điện thoại rồi", "phone"), ("sdt", "phone"), ("sửa lại địa chỉ", "address"),
    ("Mã khách hàng", "customer_code"), ("sai tên", "full_name"), ("Họ và tên", "full_name"),
    ("số cccd", "id_number"), ("Vị trí mới của công tơ", "new_location"),
])
def test_parse_field(text, field):
    assert parse_field(text, CAT) == field


def test_parse_field_only_among_allowed():
    assert parse_field("địa chỉ", CAT, ["full_name", "phone"]) is None


@pytest.mark.parametrize("text", [
    "mất phí không?", "mất phí không em", "bao lâu thì xong", "cần giấy tờ gì", "can giay to j",
    "di doi cong to mat phi ko, may ngay xong", "dời ra cột được ko", "thủ tục thế nào", "làm ntn",
    "có phải mang CCCD không", "mấy ngày thì xong", "phí bn", "phải làm sao", "dời ra ngoài à", "vậy hả",
])
def test_looks_like_question(text):
    assert looks_like_question(text)


@pytest.mark.parametrize("text", [
    "Dời công tơ ra cột điện trước cổng, số 12 ngõ 34 Hoa Bằng, Cầu Giấy, Hà Nội", "ra cột điện trước cổng",
    "chuyển công tơ ra ngoài tường rào", "Công tơ nhà tôi chạy nhanh bất thường", "công tơ bị gỉ sét",
    "gần trạm máy bơm", "Nguyễn Thị Hà", "nhà tôi ở Hà Nội ạ", "số 5 phố Sao Đỏ, Hà Nội", "", "/ask_procedure",
])
def test_statements_do_not_look_like_questions(text):
    assert not looks_like_question(text)


# ---------------------------------------------------------------------------- situations (dialogue helpers)

@pytest.mark.parametrize("text, code", [
    ("tiệm mới gắn thêm 3 cái máy lạnh", "capacity_change"),
    ("nha moi xay xong chua co dien", "new_connection_lv"),
    ("tôi đã trả nợ rồi mà vẫn chưa được đóng điện lại", "reconnection"),
    ("mới mua lại căn nhà của chủ cũ", "holder_change"),
    ("nhà cho thuê trọ 6 phòng", "quota_change"),
    ("hôm nay trời đẹp", None),
])
def test_guess_service_from_a_situation(text: str, code) -> None:
    from bot.nlu.situations import guess_service

    assert guess_service(text) == code


@pytest.mark.parametrize("text, outage", [
    ("mất điện từ sáng tới giờ vẫn chưa có, gọi không ai nghe", True),
    ("cup dien nay gio ma khong ai toi sua", True),
    ("tuần trước mất điện 3 lần không báo trước", False),
    ("lịch cắt điện không thông báo gì cả", False),
    ("hóa đơn tháng này cao bất thường", False),
])
def test_describes_outage(text: str, outage: bool) -> None:
    from bot.nlu.situations import describes_outage

    assert describes_outage(text) is outage


# ---------------------------------------------------------------------------- blend candidate (scripts/cv_configs)

def test_blended_classifier_averages_linear_and_previous_rankings(tmp_path) -> None:
    """bot.nlu.blend (a CV candidate, docs/nlu.md): weight * linear + (1 - weight) * previous ranking."""
    import numpy as np
    import scipy.sparse
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.blend import BlendedIntentClassifier

    def message(vector: list[float], intent: str | None = None, ranking: list | None = None) -> Message:
        m = Message(data={"text": "x", **({"intent": intent} if intent else {}),
                          **({"intent_ranking": ranking} if ranking else {})})
        m.add_features(Features(scipy.sparse.coo_matrix(np.array([vector])), "sentence", "text", "cv"))
        return m

    storage = LocalModelStorage(tmp_path)
    clf = BlendedIntentClassifier({"weight": 0.5}, "blend", storage, Resource("blend"))
    clf.train(TrainingData([message([1, 0], "greet"), message([2, 0], "greet"),
                            message([0, 1], "thank"), message([0, 3], "thank")]))
    linear_thank = dict(zip(clf.clf.classes_, clf.clf.predict_proba(clf._create_X([message([0, 1])]))[0]))["thank"]
    assert linear_thank > 0.5
    blended = clf.process([message([0, 1], ranking=[{"name": "greet", "confidence": 1.0}])])[0]
    ranking = {r["name"]: r["confidence"] for r in blended.get("intent_ranking")}
    assert ranking["thank"] == pytest.approx(0.5 * linear_thank)
    assert ranking["greet"] == pytest.approx(0.5 * (1 - linear_thank) + 0.5)
    assert blended.get("intent")["name"] == max(ranking, key=ranking.get)
