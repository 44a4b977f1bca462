"""The request desk's JSON API (mounted under /api by bot/web/app.py; the takeover API's auth middleware
applies: session cookie for every call, CSRF header and JSON body for every POST).

  GET  /api/desk/meta                       labels: statuses, services, slots, corporations, channels
  GET  /api/requests?status=&service=&corporation=&channel=&from=YYYY-MM-DD&to=&overdue=1&q=&before=
                                            newest first, PAGE at a time: {requests, total, next}; `next`
                                            (or null at the end) is the `before` of the following page
  GET  /api/requests/{code}                 fields, history (who, note, whether the customer was told)
  POST /api/requests/{code}/status {status, note}
                                            the change is stored first, then told to the customer on the
                                            channel the request came from; the outcome is kept on the history
  GET  /api/canned                          canned replies for the composer (bot/web/console/canned_replies.yml)
  GET  /api/customers/{code}/outages        planned outages for the customer's area
"""
from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from aiohttp import web
from sqlalchemy import select

from bot.catalogue import load_catalogue
from bot.db.models import (
    FINAL_STATUSES, REQUEST_STATUSES, STATUS_VI, Agent, ChannelMessage, RequestStatusHistory, ServiceRequest,
    canonical_status, status_label,
)
from bot.db.repository import (
    RequestFilter, count_requests, find_request, planned_outages, search_requests, set_status,
)
from bot.db.session import session_scope
from bot.localtime import today, utcnow
from bot.takeover import notify, service
from bot.takeover.api import MAX_TEXT, SETTINGS, _error, _iso, _json, _body, run_db

logger = logging.getLogger(__name__)
CANNED_FILE = Path(__file__).resolve().parent / "console" / "canned_replies.yml"
CHANNELS_VI = {"webchat": "Web chat", "zalo": "Zalo", "messenger": "Messenger", "rest": "REST", "unknown": "Khác"}
OUTAGE_DAYS = 14
PAGE = 100  # requests per page of the desk's list
routes = web.RouteTableDef()


# ------------------------------------------------------------------------------------------- meta

@routes.get("/api/desk/meta")
async def meta(_: web.Request) -> web.Response:
    catalogue = load_catalogue()
    return _json({
        "statuses": [{"code": s, "vi": STATUS_VI[s], "final": s in FINAL_STATUSES} for s in REQUEST_STATUSES],
        "services": {code: {"vi": s.vi, "short": s.short} for code, s in catalogue.services.items()},
        "slots": {name: spec.vi for name, spec in catalogue.slots.items()},
        "corporations": {code: c.vi for code, c in catalogue.corporations.items()},
        "channels": CHANNELS_VI,
    })


def load_canned(path: Path = CANNED_FILE) -> List[Dict[str, str]]:
    """Canned replies: a list of {shortcut, title, text}; entries missing a field are skipped."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for item in data.get("replies", []):
        if isinstance(item, dict) and all(isinstance(item.get(k), str) and item[k].strip()
                                          for k in ("shortcut", "title", "text")):
            out.append({"shortcut": item["shortcut"].strip().lower(), "title": item["title"].strip(),
                        "text": item["text"].strip()})
    return out


@routes.get("/api/canned")
async def canned(_: web.Request) -> web.Response:
    return _json({"replies": load_canned()})


# --------------------------------------------------------------------------------------- requests

def _filter(query: Any) -> RequestFilter:
    def day(name: str) -> Optional[date]:
        try:
            return date.fromisoformat(query[name]) if query.get(name) else None
        except ValueError:
            raise ValueError(f"Ngày không hợp lệ: {name} (cần dạng YYYY-MM-DD).")
    status = query.get("status") or None
    if status and status not in REQUEST_STATUSES:
        raise ValueError("Trạng thái không hợp lệ.")
    return RequestFilter(status=status, service=query.get("service") or None,
                         corporation=query.get("corporation") or None, channel=query.get("channel") or None,
                         created_from=day("from"), created_to=day("to"), overdue=query.get("overdue") == "1",
                         text=(query.get("q") or "").strip()[:40] or None)


def request_summary(r: ServiceRequest, on: date) -> Dict[str, Any]:
    status = canonical_status(r.status)
    return {"code": r.code, "service": r.service, "status": status, "status_vi": status_label(status),
            "priority": r.priority, "channel": r.channel, "customer_code": r.customer_code, "phone": r.phone,
            "corporation": r.corporation, "created_at": _iso(r.created_at), "updated_at": _iso(r.updated_at),
            "due_date": r.due_date.isoformat(), "overdue": r.due_date < on and status not in FINAL_STATUSES}


def _before(query: Any) -> Optional[int]:
    """The paging cursor of the list (`next` of the previous page)."""
    raw = query.get("before")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError("Tham số trang không hợp lệ (before).")
    return int(raw)


def list_requests(flt: RequestFilter, before: Optional[int] = None) -> Dict[str, Any]:
    """One page of the desk's list, newest first, with the number of matches and the next page's cursor."""
    on, page = today(), PAGE
    with session_scope() as session:
        rows = search_requests(session, flt, today=on, limit=page + 1, before_id=before)
        more = len(rows) > page
        rows = rows[:page]
        return {"requests": [request_summary(r, on) for r in rows], "total": count_requests(session, flt, today=on),
                "next": str(rows[-1].id) if more else None}


def history_json(h: RequestStatusHistory, names: Dict[int, str]) -> Dict[str, Any]:
    return {"status": canonical_status(h.status), "status_vi": status_label(h.status), "note": h.note,
            "changed_at": _iso(h.changed_at), "agent_name": names.get(h.agent_id) if h.agent_id else None,
            "delivery": h.delivery, "delivery_error": h.delivery_error}


def request_detail(code: str) -> Optional[Dict[str, Any]]:
    with session_scope() as session:
        r = find_request(session, code)
        if r is None:
            return None
        names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
        slots = load_catalogue().slots
        fields = [{"name": k, "vi": slots[k].vi if k in slots else k, "value": v}
                  for k, v in (r.fields or {}).items() if k not in ("confirm", "evidence") and v not in (None, "")]
        return {**request_summary(r, today()), "conversation_id": r.conversation_id, "fields": fields,
                "evidence": evidence_links((r.fields or {}).get("evidence")),
                "history": [history_json(h, names) for h in r.history]}


def evidence_links(items: Any) -> List[Dict[str, str]]:
    """The photos and locations a customer sent with an outage report, as {label, url} for the desk
    (only http(s) links; a location opens in a map)."""
    links: List[Dict[str, str]] = []
    photos = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "image" and re.match(r"https?://", str(item.get("url") or "")):
            photos += 1
            links.append({"label": f"Ảnh {photos}", "url": str(item["url"])})
        elif item.get("type") == "location":
            try:
                lat, lng = float(item["latitude"]), float(item["longitude"])
            except (KeyError, TypeError, ValueError):
                continue
            links.append({"label": f"Vị trí {lat:.5f}, {lng:.5f}", "url": f"https://maps.google.com/?q={lat},{lng}"})
    return links


def change_status(code: str, status: str, note: str, agent_id: int) -> Optional[Dict[str, Any]]:
    with session_scope() as session:
        r = find_request(session, code)
        if r is None:
            return None
        entry = set_status(session, r, status, note, agent_id)
        before = session.execute(select(ChannelMessage.id).order_by(ChannelMessage.id.desc()).limit(1)).scalar()
        return {"history_id": entry.id, "conversation_id": r.conversation_id, "service": r.service,
                "code": r.code, "last_message": before or 0}


def notice_text(code: str, service_code: str, status: str, note: str) -> str:
    spec = load_catalogue().services.get(service_code)
    name = spec.short if spec else service_code
    text = f"Cập nhật yêu cầu {code} ({name}): trạng thái mới là «{STATUS_VI[status]}»."
    if note:
        text += f"\nGhi chú: {note}"
    return text + "\nAnh/chị có thể nhắn mã yêu cầu bất cứ lúc nào để tra cứu tiến độ ạ."


def delivery_outcome(conversation_id: str, after_id: int, text: str) -> tuple:
    """How the channel logged the notice (channel_messages: sent / failed), or why there is no log."""
    with session_scope() as session:
        row = session.execute(select(ChannelMessage).where(
            ChannelMessage.conversation_id == conversation_id, ChannelMessage.direction == "out",
            ChannelMessage.sender == "system", ChannelMessage.id > after_id,
            ChannelMessage.text.startswith(text.split("\n", 1)[0])).order_by(ChannelMessage.id.desc())).scalar()
        if row is None:
            return "failed", "Kênh của khách không nhận tin chủ động (không có bản ghi gửi)."
        return ("sent", None) if row.status == "sent" else ("failed", row.error or row.status)


def record_delivery(history_id: int, delivery: str, error: Optional[str]) -> None:
    with session_scope() as session:
        entry = session.get(RequestStatusHistory, history_id)
        entry.delivery, entry.delivery_error = delivery, (error or None) and error[:300]


async def tell_customer(request: web.Request, changed: Dict[str, Any], status: str, note: str) -> None:
    """Send the change on the request's channel (through Rasa, like an agent's reply) and keep the outcome."""
    conversation_id = changed["conversation_id"]
    if not conversation_id:
        await run_db(record_delivery, changed["history_id"], "skipped", "Yêu cầu không gắn với cuộc trò chuyện.")
        return
    text = notice_text(changed["code"], changed["service"], status, note)
    await service.say(request.app[SETTINGS], conversation_id, text, sender="system")
    outcome = await run_db(delivery_outcome, conversation_id, changed["last_message"], text)
    await run_db(record_delivery, changed["history_id"], *outcome)


@routes.get("/api/requests")
async def requests_list(request: web.Request) -> web.Response:
    try:
        flt, before = _filter(request.query), _before(request.query)
    except ValueError as exc:
        return _error(400, str(exc))
    return _json(await run_db(list_requests, flt, before))


@routes.get("/api/requests/{code}")
async def request_one(request: web.Request) -> web.Response:
    detail = await run_db(request_detail, request.match_info["code"])
    return _json(detail) if detail else _error(404, "Không tìm thấy yêu cầu.")


@routes.post("/api/requests/{code}/status")
async def request_status(request: web.Request) -> web.Response:
    body = await _body(request)
    status, note = str(body.get("status") or ""), str(body.get("note") or "").strip()
    if status not in REQUEST_STATUSES:
        return _error(400, "Trạng thái không hợp lệ.")
    if len(note) > MAX_TEXT:
        return _error(400, f"Ghi chú dài quá {MAX_TEXT} ký tự.")
    changed = await run_db(change_status, request.match_info["code"], status, note, request["agent"].id)
    if changed is None:
        return _error(404, "Không tìm thấy yêu cầu.")
    await tell_customer(request, changed, status, note)
    await notify.announce("request", changed["code"])
    return _json({"ok": True, "request": await run_db(request_detail, changed["code"])})


# -------------------------------------------------------------------------------------- customers

def outages_for(customer_code: str) -> List[Dict[str, Any]]:
    start = utcnow()
    with session_scope() as session:
        rows = planned_outages(session, customer_code=customer_code, start=start,
                               end=start + timedelta(days=OUTAGE_DAYS))
        return [{"area": o.area, "start_at": _iso(o.start_at), "end_at": _iso(o.end_at), "reason": o.reason}
                for o in rows]


@routes.get("/api/customers/{code}/outages")
async def customer_outages(request: web.Request) -> web.Response:
    code = request.match_info["code"].strip().upper()[:13]
    return _json({"outages": await run_db(outages_for, code), "days": OUTAGE_DAYS})


def add_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
