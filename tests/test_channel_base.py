"""The channel base (connectors/base): ordering, exactly-once, the gate, recorded sends, text helpers."""
from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy import select

from bot.db.models import ChannelMessage, ChannelUser
from bot.db.session import session_scope
from connectors.base import ChannelInput, ChannelOutput, Delivery, Gate, Incoming, retrying
from connectors.base.channel import TURN_FAILED_TEXT
from connectors.base.inbox import Inbox
from connectors.base.message import custom_as_text, numbered_list, split_text
from connectors.base.turns import TurnRunner

pytestmark = pytest.mark.usefixtures("db_url")


class FakeOutput(ChannelOutput):
    """Records what would go to the platform; a conversation id in `fail` gets `fail[id]` back."""

    def __init__(self, gate: Gate) -> None:
        super().__init__(gate)
        self.sent: List[tuple] = []
        self.typing_calls: List[tuple] = []
        self.fail: Dict[str, Delivery] = {}

    @classmethod
    def name(cls) -> str:
        return "fake"

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        if conversation_id in self.fail:
            return self.fail[conversation_id]
        self.sent.append((conversation_id, message))
        choices = message.get("quick_replies")
        return Delivery(True, message_ids=[uuid.uuid4().hex], choices=choices)

    async def typing(self, conversation_id: str, on: bool, sender: str = "bot") -> None:
        self.typing_calls.append((conversation_id, on))


class FakeChannel(ChannelInput):
    @classmethod
    def name(cls) -> str:
        return "fake"


class FakeProcessor:
    def __init__(self) -> None:
        self.logged: List[UserMessage] = []

    async def log_message(self, message: UserMessage, should_save_tracker: bool = True) -> None:
        self.logged.append(message)


class FakeLocks:
    def lock(self, _conversation_id: str) -> Any:
        class _Lock:
            async def __aenter__(self) -> None:
                return None

            async def __aexit__(self, *exc: Any) -> None:
                return None
        return _Lock()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def channel(gate: Gate) -> FakeChannel:
    ch = FakeChannel(gate)
    ch.app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(
        processor=FakeProcessor(), lock_store=FakeLocks())))
    return ch


def rows(**where: Any) -> List[ChannelMessage]:
    with session_scope() as s:
        query = select(ChannelMessage).order_by(ChannelMessage.id)
        for key, value in where.items():
            query = query.where(getattr(ChannelMessage, key) == value)
        return list(s.execute(query).scalars())


# ------------------------------------------------------------------------------------------ turns

async def test_turns_keep_order_per_conversation_and_run_conversations_concurrently():
    runner = TurnRunner("t")
    seen: List[str] = []
    running = {"now": 0, "max": 0}

    def job(conv: str, n: int, delay: float):
        async def run() -> None:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
            await asyncio.sleep(delay)
            seen.append(f"{conv}{n}")
            running["now"] -= 1
        return run

    for n in range(5):
        runner.submit("a", job("a", n, 0.02 * (5 - n)))  # later messages are quicker, yet must not overtake
        runner.submit("b", job("b", n, 0.01))
    await runner.idle()
    assert [x for x in seen if x[0] == "a"] == [f"a{n}" for n in range(5)]
    assert [x for x in seen if x[0] == "b"] == [f"b{n}" for n in range(5)]
    assert running["max"] == 2  # a and b ran side by side, never two of the same conversation
    assert runner.busy == 0


async def test_a_failing_turn_is_contained():
    runner = TurnRunner("t")
    done: List[str] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def ok() -> None:
        done.append("ok")

    runner.submit("a", boom)
    runner.submit("a", ok)
    runner.submit("b", ok)
    await runner.idle()
    assert done == ["ok", "ok"]


# ------------------------------------------------------------------------------------------ inbox

async def test_inbox_claims_once_across_restarts_and_concurrent_deliveries():
    inbox = Inbox("fake")
    results = await asyncio.gather(*(inbox.claim("fake:1", "m-1", "chào") for _ in range(20)))
    assert results.count(True) == 1
    restarted = Inbox("fake")  # a new process: empty memory, same database
    assert not await restarted.claim("fake:1", "m-1")
    other_process = [Inbox("fake") for _ in range(5)]
    results = await asyncio.gather(*(i.claim("fake:1", "m-2") for i in other_process))
    assert results.count(True) == 1
    assert await Inbox("other").claim("other:1", "m-1")  # ids are per channel
    await restarted.release("fake:1", "m-1", "turn failed")
    assert await Inbox("fake").claim("fake:1", "m-1")
    assert [r.status for r in rows(platform_message_id=None)] == ["failed"]


# ------------------------------------------------------------------------------------- accepting

async def test_accept_runs_the_turn_once_with_typing(channel: FakeChannel, gate: Gate):
    output = FakeOutput(gate)
    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)
        await message.output_channel.send_text_message(message.sender_id, "Dạ em nghe")

    incoming = Incoming("fake:1", "  xin chào ", "m-1", {"k": "v"})
    assert await channel.accept(on_new_message, incoming, output) == "ok"
    assert await channel.accept(on_new_message, incoming, output) == "duplicate"
    assert await channel.accept(on_new_message, Incoming("fake:1", "   ", "m-2"), output) == "empty"
    assert await channel.accept(on_new_message, Incoming("fake:1", "x" * 2001, "m-3"), output) == "too_long"
    await channel.turns.idle()
    assert [(m.text, m.message_id, m.input_channel, m.metadata) for m in handled] == [
        ("xin chào", "m-1", "fake", {"k": "v"})]
    assert output.typing_calls == [("fake:1", True), ("fake:1", False)]
    assert [(r.direction, r.sender, r.text, r.status) for r in rows()] == [
        ("in", "user", "xin chào", "received"), ("out", "bot", "Dạ em nghe", "sent")]


async def test_a_failed_turn_apologises_and_frees_the_message_id(channel: FakeChannel, gate: Gate):
    output = FakeOutput(gate)
    calls: List[str] = []

    async def on_new_message(message: UserMessage) -> None:
        calls.append(message.text)
        if len(calls) == 1:
            raise RuntimeError("tracker store down")

    assert await channel.accept(on_new_message, Incoming("fake:1", "alo", "m-1"), output) == "ok"
    await channel.turns.idle()
    assert output.sent[-1][1]["text"] == TURN_FAILED_TEXT
    assert await channel.accept(on_new_message, Incoming("fake:1", "alo", "m-1"), output) == "ok"  # the resend
    await channel.turns.idle()
    assert calls == ["alo", "alo"]


async def test_a_typed_number_picks_from_the_numbered_list_we_sent_last(channel: FakeChannel, gate: Gate):
    output = FakeOutput(gate)
    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)

    buttons = [{"title": "Cấp điện mới", "payload": "/request_service{\"service\":\"new_connection\"}"},
               {"title": "Di dời công tơ", "payload": "/request_service{\"service\":\"meter_relocation\"}"}]
    await output.send_text_with_buttons("fake:1", "Chọn dịch vụ", buttons)
    await channel.accept(on_new_message, Incoming("fake:1", "2", "m-1"), output)
    await channel.accept(on_new_message, Incoming("fake:2", "2", "m-2"), output)  # nothing offered there
    await channel.turns.idle()
    assert handled[0].text == buttons[1]["payload"]
    assert handled[0].metadata["display_text"] == "Di dời công tơ"
    assert handled[1].text == "2"
    await output.send_text_message("fake:1", "Nhà anh/chị có mấy hộ dùng chung?")
    await channel.accept(on_new_message, Incoming("fake:1", "2", "m-3"), output)
    await channel.turns.idle()
    assert handled[2].text == "2"  # the list is no longer the latest question


# ------------------------------------------------------------------------------------------- gate

async def test_the_gate_holds_a_conversation_silently(channel: FakeChannel, gate: Gate):
    output = FakeOutput(gate)
    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)

    async def held(_channel: str, conversation_id: str) -> bool:
        return conversation_id == "fake:held"

    gate.register(held)
    await channel.accept(on_new_message, Incoming("fake:held", "alo alo", "m-1"), output)
    await channel.accept(on_new_message, Incoming("fake:free", "alo", "m-2"), output)
    await channel.turns.idle()
    assert [m.sender_id for m in handled] == ["fake:free"]
    logged = channel.agent.processor.logged
    assert [(m.sender_id, m.text) for m in logged] == [("fake:held", "alo alo")]
    assert rows(platform_message_id="m-1")[0].status == "held"
    assert output.typing_calls == [("fake:free", True), ("fake:free", False)]

    await output.send_text_message("fake:held", "câu trả lời của bot")  # e.g. a turn that started earlier
    await output.send_response("fake:held", {"text": "Em là Lan", "sender": "agent", "sender_name": "Lan"})
    assert [m["text"] for _, m in output.sent] == ["Em là Lan"]
    assert [(r.sender, r.status) for r in rows(direction="out")] == [("bot", "suppressed"), ("agent", "sent")]


async def test_a_failing_gate_check_keeps_the_last_answer_else_silence(gate: Gate):
    state = {"down": False, "held": {"fake:2"}}

    async def takeover(_channel: str, conversation_id: str) -> bool:
        if state["down"]:
            raise ConnectionError("db down")
        return conversation_id in state["held"]

    gate.register(takeover)
    assert await gate.bot_may_answer("fake", "fake:1")
    assert not await gate.bot_may_answer("fake", "fake:2")
    state["down"] = True
    assert await gate.bot_may_answer("fake", "fake:1")  # known free: the bot still answers
    assert not await gate.bot_may_answer("fake", "fake:2")  # known held: stays silent
    assert not await gate.bot_may_answer("fake", "fake:3")  # never seen: when in doubt, silence
    gate.unregister(takeover)
    assert await gate.bot_may_answer("fake", "fake:3")


# ----------------------------------------------------------------------------------------- output

async def test_failed_and_unreachable_sends_are_recorded_never_raised(gate: Gate):
    output = FakeOutput(gate)
    output.fail["fake:u1"] = Delivery.failed("-230 user has not interacted for 7 days", unreachable=True)

    async def explode(_conversation_id: str, _message: Dict[str, Any]) -> Delivery:
        raise ValueError("bug in rendering")

    await output.send_text_message("fake:u1", "Yêu cầu của anh/chị đã được tiếp nhận")
    failed = rows(direction="out")[-1]
    assert (failed.status, failed.text) == ("failed", "Yêu cầu của anh/chị đã được tiếp nhận")
    assert failed.error.startswith("-230")
    with session_scope() as s:
        user = s.get(ChannelUser, ("fake", "u1"))
        assert user.reachable is False and user.unreachable_reason.startswith("-230")
    output.deliver = explode  # type: ignore[assignment]
    await output.send_text_message("fake:u2", "x")
    assert rows(direction="out")[-1].error == "error: ValueError"


async def test_retrying_is_bounded_and_retries_only_transient_failures(monkeypatch):
    sleeps: List[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    answers = [Delivery.failed("rate limit", retry_after=1.0), Delivery(True, ["m1"])]

    async def flaky() -> Delivery:
        return answers.pop(0)

    assert (await retrying(flaky, "send")).ok
    calls = {"n": 0}

    async def network_down() -> Delivery:
        calls["n"] += 1
        raise ConnectionResetError()

    result = await retrying(network_down, "send", max_attempts=3)
    assert not result.ok and calls["n"] == 3 and result.error == "network: ConnectionResetError"

    async def permanent() -> Delivery:
        calls["n"] += 1
        return Delivery.failed("blocked", unreachable=True)

    calls["n"] = 0
    assert not (await retrying(permanent, "send")).ok and calls["n"] == 1
    assert sleeps == [1.0, 0.5, 1.0]


# ------------------------------------------------------------------------------------ text helpers

def test_split_text_prefers_sentence_ends_and_respects_the_limit():
    text = "Câu một rất dài. " * 30 + "Câu cuối."
    parts = split_text(text, 100)
    assert all(len(p) <= 100 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text.strip()
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
    assert split_text("ngắn", 100) == ["ngắn"]


def test_cards_and_lists_as_text():
    card = {"type": "request_summary", "title": "Di dời công tơ", "request_code": "YC7K4M9P",
            "fields": [{"label": "Họ tên", "value": "Nguyễn Văn An"}], "note": "Hạn xử lý 05/12/2026"}
    assert custom_as_text(card) == ("Di dời công tơ\nMã yêu cầu: YC7K4M9P\n• Họ tên: Nguyễn Văn An\n"
                                    "Hạn xử lý 05/12/2026")
    assert custom_as_text({"type": "link", "url": "https://evn.vn", "title": "Xem"}) == "Xem: https://evn.vn"
    assert custom_as_text({"whatever": 1}) is None
    listed = numbered_list("Chọn:", [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}])
    assert listed.splitlines()[:3] == ["Chọn:", "1. A", "2. B"]


async def test_an_interceptor_answers_before_rasa_and_other_text_goes_through(channel: FakeChannel, gate: Gate):
    output = FakeOutput(gate)
    handled: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        handled.append(message)

    async def ratings(_channel: str, _conversation_id: str, text: str):
        return "Cảm ơn anh/chị đã đánh giá!" if text.startswith("/csat") else None

    gate.intercept_with(ratings)
    await channel.accept(on_new_message, Incoming("fake:1", '/csat{"score":5}', "m-1"), output)
    await channel.accept(on_new_message, Incoming("fake:1", "cảm ơn em", "m-2"), output)
    await channel.turns.idle()
    assert [m.text for m in handled] == ["cảm ơn em"]
    assert output.sent[0][1] == {"sender": "system", "text": "Cảm ơn anh/chị đã đánh giá!"}
