"""The request desk, the overview and the console pages over real HTTP (aiohttp test server, migrated SQLite).
Rasa is not running here, so telling a customer fails and must be recorded as failed; the delivered path runs
against the whole system in tests/browser/test_console_browser.py."""
from __future__ import annotations

from datetime import date, timedelta

from alembic import command
from sqlalchemy import select, text

from bot.db.migrate import alembic_config, upgrade
from bot.db.models import ChannelMessage
from bot.db.repository import NewRequest, create_request, find_request
from bot.db.session import session_scope
from bot.localtime import today as local_today, utcnow
from bot.settings import Settings
from bot.takeover import agents, engine
from bot.web import demo_agent
from bot.web.desk import load_canned
from bot.web.overview import day_start, overview
from tests.console import api, login  # noqa: F401 - `api` is a pytest fixture

CONSOLE_URLS = ["/console/", "/console/c/1", "/console/callbacks", "/console/requests",
                "/console/requests/YC7K4M9P", "/console/overview"]


def make_request(service: str = "meter_relocation", channel: str = "webchat", conversation_id: str = "",
                 customer_code: str = "PD01001494350", created_days_ago: int = 0, due_days: int = 5,
                 status: str = "received") -> str:
    with session_scope() as s:
        req, _ = create_request(s, NewRequest(service=service, fields={"full_name": "Nguyễn Văn A", "phone": "0912345678"},
                                              idempotency_key=f"k-{service}-{channel}-{conversation_id}-{created_days_ago}-{due_days}-{status}",
                                              channel=channel, conversation_id=conversation_id,
                                              customer_code=customer_code, phone="0912345678"))
        req.created_at = utcnow() - timedelta(days=created_days_ago)
        req.due_date = date.today() + timedelta(days=due_days)
        req.status = status
        return req.code


# ------------------------------------------------------------------------------------ pages

async def test_every_console_url_sends_a_logged_out_browser_to_the_login_page(api):
    for url in CONSOLE_URLS:
        resp = await api.get(url, allow_redirects=False)
        assert resp.status == 303, url
        assert resp.headers["Location"].startswith("/console/login?next=/console/"), url
    login_page = await api.get("/console/login")
    assert login_page.status == 200 and "Đăng nhập" in await login_page.text()
    assert "script-src 'self'" in login_page.headers["Content-Security-Policy"]
    assert (await api.get("/console", allow_redirects=False)).headers["Location"] == "/console/"
    for path in ("/api/requests", "/api/requests/YC7K4M9P", "/api/overview", "/api/canned", "/api/desk/meta",
                 "/api/customers/PD01001494350/outages"):
        assert (await api.get(path)).status == 401, path


async def test_an_agent_cannot_open_a_supervisor_screen_and_a_supervisor_can(api):
    lan, thu = await login(api, "lan"), await login(api, "thu")
    for url in CONSOLE_URLS[:-1]:
        page = await api.get(url, headers={"Cookie": lan["Cookie"]}, allow_redirects=False)
        assert page.status == 200, url
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert (await api.get("/console/overview", headers={"Cookie": lan["Cookie"]})).status == 403
    assert (await api.get("/api/overview", headers={"Cookie": lan["Cookie"]})).status == 403
    assert (await api.get("/console/overview", headers={"Cookie": thu["Cookie"]})).status == 200
    assert (await api.get("/api/overview", headers={"Cookie": thu["Cookie"]})).status == 200
    js = await api.get("/console/assets/console.js")
    assert js.status == 200 and "textContent" in await js.text()
    assert (await api.get("/console/assets/index.html")).status == 404  # only the listed assets


# --------------------------------------------------------------------------------- requests

async def test_request_list_filters(api, db_url):
    lan = await login(api, "lan")
    a = make_request("meter_relocation", "webchat", created_days_ago=0, due_days=3)
    b = make_request("outage_report", "zalo", customer_code="PE01004496132", created_days_ago=2, due_days=-1)
    c = make_request("complaint", "messenger", customer_code="PA01001826767", created_days_ago=10, due_days=-4,
                     status="done")

    async def codes(query: str) -> list:
        resp = await api.get(f"/api/requests?{query}", headers=lan)
        assert resp.status == 200, await resp.text()
        return sorted(r["code"] for r in (await resp.json())["requests"])

    assert await codes("") == sorted([a, b, c])
    assert await codes("status=done") == [c]
    assert await codes("service=outage_report") == [b]
    assert await codes("corporation=EVNHCMC") == [b]
    assert await codes("channel=messenger") == [c]
    assert await codes("overdue=1") == [b]  # c is past due but done
    since = (date.today() - timedelta(days=3)).isoformat()
    assert await codes(f"from={since}") == sorted([a, b])
    assert await codes(f"to={(date.today() - timedelta(days=5)).isoformat()}") == [c]
    assert await codes(f"q={b.lower()}") == [b]
    assert (await api.get("/api/requests?status=lost", headers=lan)).status == 400
    assert (await api.get("/api/requests?from=hôm-qua", headers=lan)).status == 400
    listed = (await (await api.get("/api/requests?overdue=1", headers=lan)).json())["requests"][0]
    assert listed["overdue"] is True and listed["status_vi"] == "Đã tiếp nhận"


async def test_request_list_comes_a_page_at_a_time_and_counts_every_match(api, db_url, monkeypatch):
    from bot.web import desk
    monkeypatch.setattr(desk, "PAGE", 4)
    lan = await login(api, "lan")
    made = [make_request("meter_relocation", "webchat", created_days_ago=i, due_days=5) for i in range(9)]
    other = make_request("outage_report", "zalo", customer_code="PE01004496132")

    async def page(query: str) -> dict:
        resp = await api.get(f"/api/requests?{query}", headers=lan)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    seen, query = [], "service=meter_relocation"
    while True:
        body = await page(query)
        assert body["total"] == 9 and len(body["requests"]) <= 4
        seen += [r["code"] for r in body["requests"]]
        if body["next"] is None:
            break
        query = f"service=meter_relocation&before={body['next']}"
    assert seen == made[::-1]  # newest first, each once, nothing skipped
    first = await page("")
    assert first["total"] == 10 and [r["code"] for r in first["requests"]][0] == other
    for bad in ("abc", "0", "-3"):
        assert (await api.get(f"/api/requests?before={bad}", headers=lan)).status == 400


async def test_overview_counts_every_overdue_request_and_lists_the_first_twenty(api, db_url):
    thu = await login(api, "thu")
    for i in range(23):
        make_request("meter_relocation", "webchat", created_days_ago=i, due_days=-1)
    body = await (await api.get("/api/overview", headers=thu)).json()
    assert body["requests"]["overdue_count"] == 23 and len(body["requests"]["overdue"]) == 20


async def test_request_detail_shows_the_customers_photos_and_locations_as_links(api, db_url):
    lan = await login(api, "lan")
    with session_scope() as s:
        req, _ = create_request(s, NewRequest(service="outage_report", idempotency_key="evidence-desk",
                                              fields={"phone": "0912345678", "evidence": [
                                                  {"type": "image", "url": "https://scontent.xx.fbcdn.net/cot.jpg"},
                                                  {"type": "image", "url": "javascript:alert(1)"},
                                                  {"type": "location", "latitude": 10.7769, "longitude": 106.7009},
                                                  {"type": "location", "latitude": "north"}]},
                                              channel="messenger", phone="0912345678"))
        code = req.code
    detail = await (await api.get(f"/api/requests/{code}", headers=lan)).json()
    assert detail["evidence"] == [
        {"label": "Ảnh 1", "url": "https://scontent.xx.fbcdn.net/cot.jpg"},
        {"label": "Vị trí 10.77690, 106.70090", "url": "https://maps.google.com/?q=10.7769,106.7009"}]
    assert [f["name"] for f in detail["fields"]] == ["phone"]


async def test_status_change_keeps_history_and_a_request_without_conversation_is_skipped(api):
    lan = await login(api, "lan")
    code = make_request(conversation_id="")
    resp = await api.post(f"/api/requests/{code}/status", json={"status": "surveying", "note": "Thứ Hai khảo sát"},
                          headers=lan)
    assert resp.status == 200, await resp.text()
    detail = (await resp.json())["request"]
    assert detail["status"] == "surveying" and detail["status_vi"] == "Đang khảo sát"
    last = detail["history"][-1]
    assert last["note"] == "Thứ Hai khảo sát" and last["agent_name"] == "Lan" and last["delivery"] == "skipped"
    assert [h["status"] for h in detail["history"]] == ["received", "surveying"]
    assert {f["vi"] for f in detail["fields"]} >= {"Họ và tên", "Số điện thoại"}

    from actions.lookups import _request_text
    with session_scope() as s:
        answer = _request_text(find_request(s, code))
    assert "Trạng thái: Đang khảo sát" in answer and "Ghi chú: Thứ Hai khảo sát" in answer


async def test_a_customer_who_cannot_be_told_is_recorded_as_failed(api):
    lan = await login(api, "lan")
    code = make_request(conversation_id="web-session-42")
    resp = await api.post(f"/api/requests/{code}/status", json={"status": "waiting_customer",
                                                                "note": "Cần bổ sung CCCD"}, headers=lan)
    assert resp.status == 200
    last = (await resp.json())["request"]["history"][-1]
    assert last["delivery"] == "failed" and last["delivery_error"]
    with session_scope() as s:
        logged = s.execute(select(ChannelMessage).where(ChannelMessage.conversation_id == "web-session-42")).scalar_one()
        assert logged.status == "failed" and logged.sender == "system"
        assert code in logged.text and "Chờ khách hàng bổ sung" in logged.text and "Cần bổ sung CCCD" in logged.text
        assert find_request(s, code).status == "waiting_customer"  # the change is kept even so


async def test_status_change_rejects_bad_input(api):
    lan = await login(api, "lan")
    code = make_request()
    assert (await api.post(f"/api/requests/{code}/status", json={"status": "done"},
                           headers={"Cookie": lan["Cookie"]})).status == 403  # no CSRF token
    assert (await api.post(f"/api/requests/{code}/status", json={"status": "finished"}, headers=lan)).status == 400
    assert (await api.post(f"/api/requests/{code}/status", json={"status": "done", "note": "x" * 2001},
                           headers=lan)).status == 400
    assert (await api.post("/api/requests/YCZZZZZZ/status", json={"status": "done"}, headers=lan)).status == 404
    with session_scope() as s:
        assert len(find_request(s, code).history) == 1


def test_old_status_values_are_renamed_by_the_migration_and_still_readable(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    from sqlalchemy import create_engine

    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("INSERT INTO service_requests (code, idempotency_key, service, status, priority, channel, "
                          "conversation_id, fields, due_date, created_at, updated_at) VALUES ('YCAAAAAA', 'k1', "
                          "'complaint', 'completed', 'normal', 'webchat', '', '{}', '2026-01-05', '2026-01-01', "
                          "'2026-01-01')"))
    upgrade(url)
    with db.begin() as conn:
        assert conn.execute(text("SELECT status FROM service_requests")).scalar() == "done"
    command.downgrade(alembic_config(url), "0003")
    with db.begin() as conn:
        assert conn.execute(text("SELECT status FROM service_requests")).scalar() == "completed"
    db.dispose()
    from bot.db.models import status_label

    assert status_label("scheduled") == "Đang khảo sát" and status_label("cancelled") == "Từ chối"


# --------------------------------------------------------------------------------- overview

def test_overview_figures(db_url):
    now = utcnow()
    # the customers wrote a little earlier, but never before today's Vietnam midnight (00:00 ICT = 17:00 UTC)
    wrote = max(now - timedelta(minutes=10), day_start(local_today()))
    for i, (cid, wait) in enumerate((("web-a", 30), ("web-b", 90), ("web-c", None))):
        engine.escalate(cid, "gặp nhân viên")
        with session_scope() as s:
            s.add(ChannelMessage(channel="webchat", conversation_id=cid, direction="in", sender="user", text="alo",
                                 status="received", created_at=wrote))
            if wait is not None:
                s.add(ChannelMessage(channel="webchat", conversation_id=cid, direction="out", sender="agent",
                                     text="Em chào anh", status="sent", created_at=now + timedelta(seconds=wait)))
    with session_scope() as s:
        from bot.db.models import Conversation

        for row in s.execute(select(Conversation)).scalars():
            row.escalated_at = now
        row.state, row.resolved_at, row.csat_score = "closed", now, 4
    make_request("outage_report", due_days=-2)
    make_request("outage_report", due_days=3, status="done")
    figures = overview()
    today = figures["today"]
    assert today["conversations"] == 3 and today["escalations"] == 3
    assert today["median_wait_seconds"] == 60 and today["answered"] == 2
    assert today["resolved"] == 1 and today["csat_average"] == 4.0 and today["csat_count"] == 1
    requests = figures["requests"]
    assert requests["by_service"] == {"outage_report": 2}
    assert requests["by_status"] == {"received": 1, "done": 1}
    assert requests["overdue_count"] == 1 and sum(d["count"] for d in requests["per_day"]) == 2


# ------------------------------------------------------------------------------- canned, demo

async def test_canned_replies_come_from_the_data_file(api):
    lan = await login(api, "lan")
    replies = (await (await api.get("/api/canned", headers=lan)).json())["replies"]
    assert replies == load_canned() and len(replies) >= 5
    assert len({r["shortcut"] for r in replies}) == len(replies)
    assert any(r["shortcut"] == "chao" for r in replies)


def test_the_demo_login_is_made_only_for_the_default_local_database(db_url, tmp_path):
    default = Settings().database_url
    assert demo_agent.ensure_demo_agent(Settings(database_url=db_url), tmp_path / "p") is None
    assert demo_agent.ensure_demo_agent(Settings(database_url=default, demo_agent=False), tmp_path / "p") is None
    password = demo_agent.ensure_demo_agent(Settings(database_url=default), tmp_path / "p")
    assert password and agents.login("demo", password) is not None
    assert (tmp_path / "p").stat().st_mode & 0o077 == 0
    assert demo_agent.ensure_demo_agent(Settings(database_url=default), tmp_path / "p") == password  # printed again


def test_no_demo_login_once_real_accounts_exist(db_url, tmp_path):
    agents.add_agent("lan", "mat-khau-lan")
    assert demo_agent.ensure_demo_agent(Settings(database_url=Settings().database_url), tmp_path / "p") is None
