"""The web chat widget against the real system, in headless Chromium (fixtures: tests/browser/conftest.py)."""
from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

REQUEST_CODE_RE = re.compile(r"\bYC[A-Z0-9]{6}\b")
# Seeded customer (docs/ARCHITECTURE.md): PD01001494350, Phan Thanh Dung, 0359609853, EVNHANOI
ANSWERS = {
    "customer_code": "PD01001494350",
    "full_name": "Phan Thanh Dung",
    "phone": "0359609853",
    "new_location": "Dời công tơ ra cột điện trước cổng, số 12 ngõ 34 Hoa Bằng, Cầu Giấy, Hà Nội",
    "address": "Số 12 ngõ 34 Hoa Bằng, Cầu Giấy, Hà Nội",
}
AFFIRM_TITLE = r"^(đúng|có|xác nhận|đồng ý|ok)"


def _slots(tracker: dict) -> dict:
    return tracker.get("slots", {})


def test_service_request_by_typing_and_buttons(chat):
    """Greet -> button menu -> meter relocation form (typed values, button confirm) -> request code."""
    chat.goto()
    chat.page.locator(".ew-launcher").click()
    chat.open()
    assert chat.page.locator(".ew-panel").get_attribute("role") == "dialog"
    assert chat.page.locator(".ew-greeting").count() == 1

    chat.type("xin chào")
    chat.wait_turn()
    assert chat.quick_replies().count() >= 2, "greeting should offer buttons"
    chat.click_reply("đăng ký dịch vụ")  # /request_service
    tracker = chat.wait_turn()
    assert chat.texts(chat.user_messages())[-1] == "Đăng ký dịch vụ điện"  # the title, not the payload

    if _slots(tracker).get("requested_slot") == "service" or _slots(tracker).get("service") is None:
        if chat.quick_replies().filter(has_text=re.compile("di dời công tơ", re.I)).count():
            chat.click_reply("di dời công tơ")
        else:
            chat.type("di dời công tơ")
        tracker = chat.wait_turn()
    assert _slots(tracker).get("service") == "meter_relocation", _slots(tracker)

    clicked_confirm = False
    for _ in range(12):
        slots = _slots(tracker)
        if slots.get("request_code"):
            break
        requested = slots.get("requested_slot")
        affirm = chat.quick_replies().filter(has_text=re.compile(AFFIRM_TITLE, re.I))
        if requested == "confirm":
            chat.screenshot("service_request-summary")
            if affirm.count():
                affirm.first.click()
                clicked_confirm = True
            else:
                chat.type("đúng rồi")
        elif requested in ANSWERS:
            if requested != "customer_code" and affirm.count():
                affirm.first.click()  # a known value offered for confirmation
            else:
                chat.type(ANSWERS[requested])
        else:
            raise AssertionError(f"unexpected question (requested_slot={requested!r}): {chat.last_bot_text()}")
        tracker = chat.wait_turn()

    code = _slots(tracker).get("request_code")
    assert code and REQUEST_CODE_RE.fullmatch(code), _slots(tracker)
    chat.log.get_by_text(code).first.wait_for()
    # the submission also arrives as a request-summary card (custom payload) with the code
    chat.log.locator(".ew-card .ew-code").filter(has_text=code).first.wait_for()
    assert clicked_confirm, "the confirmation should be offered as buttons"
    # times are shown on every message
    assert chat.page.locator(".ew-log .ew-msg:not(.ew-greeting) time").count() == \
        chat.page.locator(".ew-log .ew-msg:not(.ew-greeting)").count()


def test_reload_restores_history_and_continues(chat):
    """Phone-sized viewport: reload mid-conversation, same session, history back, conversation continues."""
    chat.page.set_viewport_size({"width": 390, "height": 844})
    chat.goto()
    chat.open()
    box = chat.page.locator(".ew-panel").bounding_box()
    assert box["width"] >= 389 and box["height"] >= 843, "the panel fills a phone screen"

    chat.type("xin chào")
    chat.wait_turn()
    chat.click_reply("đăng ký dịch vụ")
    chat.wait_turn()
    session_id = chat.session_id()
    before = [chat.bot_messages().nth(i).inner_text() for i in range(chat.bot_messages().count())]
    users_before = chat.texts(chat.user_messages())
    assert len(before) >= 2 and len(users_before) == 2

    chat.page.reload()
    chat.open()  # the panel re-opens by itself after a reload; open() is a no-op then
    assert chat.session_id() == session_id
    chat.bot_messages().nth(len(before) - 1).wait_for()
    after = [chat.bot_messages().nth(i).inner_text() for i in range(chat.bot_messages().count())]
    users_after = chat.texts(chat.user_messages())
    assert after == before
    assert users_after == users_before  # button clicks show their titles, also from history
    chat.screenshot("reload-history")

    chat.type("cảm ơn em")
    chat.wait_turn()
    assert chat.user_messages().count() == 3
    assert chat.system.user_texts(session_id)[-1] == "cảm ơn em"
    assert chat.bot_messages().count() > len(before)


def test_html_is_shown_as_text_never_run(chat):
    chat.goto()
    chat.open()
    payload = "<img src=x onerror=alert(1)>"
    chat.type(payload)
    chat.wait_turn()
    assert chat.texts(chat.user_messages())[-1] == payload
    session_id = chat.session_id()
    # the bot side too: a pushed message with markup, a javascript: URL and a real link
    r = chat.system.push(session_id, "<b>đậm</b><script>window.__pwned=1</script> javascript:alert(2) "
                                     "xem https://example.vn/lich-cat-dien?khu=1.", sender="agent",
                         sender_name="<i>Lan</i>")
    assert r.status_code == 200, r.text
    agent = chat.page.locator(".ew-log .ew-agent").last
    agent.wait_for()
    time.sleep(0.5)
    assert chat.texts(agent)[0].startswith("<b>đậm</b><script>window.__pwned=1</script> javascript:alert(2)")
    assert "<i>Lan</i>" in agent.locator(".ew-who").inner_text()
    links = chat.page.locator(".ew-log a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == "https://example.vn/lich-cat-dien?khu=1"
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    assert chat.page.locator(".ew-log img, .ew-log script, .ew-log b, .ew-log i").count() == 0
    assert chat.dialogs == []
    assert chat.page.evaluate("window.__pwned === undefined")
    # the same after a reload (history path)
    chat.page.reload()
    chat.open()
    chat.page.locator(".ew-log .ew-agent").last.wait_for()
    assert chat.page.locator(".ew-log img, .ew-log script, .ew-log b").count() == 0
    assert chat.dialogs == []


def test_server_push_reaches_the_open_widget(chat):
    chat.goto()
    chat.open()
    chat.type("xin chào")
    chat.wait_turn()
    session_id = chat.session_id()
    bots = chat.bot_messages().count()

    # Rasa's own HTTP API with output_channel=webchat: the greeting arrives without the customer typing
    chat.system.trigger_intent(session_id, "greet")
    chat.bot_messages().nth(bots).wait_for()
    assert chat.bot_messages().count() == bots + 1
    assert chat.quick_replies().count() >= 2
    assert chat.system.user_texts(session_id) == ["xin chào"]
    chat.screenshot("server_push-trigger_intent")

    # agent push through Rasa's API to the conversation's channel, while the panel is closed: badge, then agent styling
    chat.page.locator(".ew-close").click()
    r = chat.system.push(session_id, "Chào anh/chị, em là Lan – nhân viên CSKH. Em hỗ trợ tiếp ạ.",
                         sender="agent", sender_name="Lan")
    assert r.status_code == 200, r.text
    badge = chat.page.locator(".ew-badge")
    badge.wait_for()
    assert badge.inner_text() == "1"
    assert "1 tin nhắn mới" in chat.page.locator(".ew-launcher").get_attribute("aria-label")
    chat.screenshot("server_push-badge")
    chat.page.locator(".ew-launcher").click()
    agent = chat.page.locator(".ew-log .ew-agent").last
    assert "Nhân viên CSKH · Lan" in agent.locator(".ew-who").inner_text()
    assert agent.locator("time").count() == 1
    assert badge.is_hidden()
    assert chat.quick_replies().count() == 0  # the agent message is now the latest one
    # pushing needs the token
    assert chat.system.push(session_id, "x", token="wrong").status_code == 401


def test_server_restart_banner_and_offline_queue(chat):
    system = chat.system
    chat.goto()
    chat.open()
    chat.type("xin chào")
    chat.wait_turn()
    session_id = chat.session_id()
    assert chat.banner.is_hidden()

    system.stop_rasa()
    chat.banner.wait_for(state="visible", timeout=20_000)
    assert "Mất kết nối" in chat.banner.inner_text()
    assert chat.page.locator(".ew-root[data-connection='offline']").count() == 1
    offline_text = "cảm ơn em nhiều"
    chat.type(offline_text)
    pending = chat.page.locator(".ew-log .ew-pending")
    pending.wait_for()
    assert "Đang chờ gửi" in pending.inner_text()
    chat.screenshot("restart-offline")

    system.start_rasa()
    chat.wait_online(timeout=60_000)
    chat.banner.wait_for(state="hidden", timeout=30_000)
    pending.wait_for(state="detached", timeout=30_000)
    chat.wait_turn()
    assert chat.user_messages().last.locator(".ew-state").inner_text() == "Đã gửi"
    # give a (wrong) second delivery time to show up before counting
    time.sleep(2)
    assert system.user_texts(session_id).count(offline_text) == 1
    assert system.user_texts(session_id).count("xin chào") == 1
    # the earlier conversation is still on screen (history from the SQL tracker store)
    assert chat.user_messages().count() == 2
    assert chat.texts(chat.user_messages()) == ["xin chào", offline_text]
