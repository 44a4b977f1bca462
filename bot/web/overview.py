"""The supervisors' overview: today's figures (Vietnam time) for the console's charts.

  GET /api/overview      supervisors only (403 for an agent)

Today: conversations (customers who wrote), escalations, median wait from escalation to the first agent
message, conversations resolved, CSAT average; all time: requests by service and by status, overdue
requests; the last 7 days: requests received per day.
"""
from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Optional

from aiohttp import web
from sqlalchemy import func, select

from bot.db.models import ChannelMessage, Conversation, ServiceRequest, canonical_status
from bot.db.repository import RequestFilter, count_requests, search_requests
from bot.db.session import session_scope
from bot.localtime import LOCAL_TZ, as_local, as_utc, today
from bot.takeover.api import _error, _json, run_db
from bot.web.desk import request_summary

routes = web.RouteTableDef()
SERIES_DAYS = 7


def day_start(day: date) -> datetime:
    return as_utc(datetime.combine(day, datetime.min.time(), LOCAL_TZ))


def first_reply_waits(session: Any, since: datetime) -> List[float]:
    """Seconds from each escalation since `since` to the first agent message after it."""
    escalated = session.execute(select(Conversation.conversation_id, Conversation.escalated_at).where(
        Conversation.escalated_at >= since)).all()
    if not escalated:
        return []
    replies = session.execute(select(ChannelMessage.conversation_id, ChannelMessage.created_at).where(
        ChannelMessage.conversation_id.in_([c for c, _ in escalated]), ChannelMessage.direction == "out",
        ChannelMessage.sender == "agent", ChannelMessage.created_at >= since)
        .order_by(ChannelMessage.created_at)).all()
    waits = []
    for conversation_id, at in escalated:
        first = next((as_utc(t) for c, t in replies if c == conversation_id and as_utc(t) >= as_utc(at)), None)
        if first is not None:
            waits.append((first - as_utc(at)).total_seconds())
    return waits


def conversation_figures(session: Any, since: datetime) -> Dict[str, Any]:
    count = lambda q: session.execute(q).scalar() or 0  # noqa: E731
    waits = first_reply_waits(session, since)
    csat = session.execute(select(func.avg(Conversation.csat_score), func.count(Conversation.csat_score)).where(
        Conversation.resolved_at >= since, Conversation.csat_score.is_not(None))).one()
    return {
        "conversations": count(select(func.count(func.distinct(ChannelMessage.conversation_id))).where(
            ChannelMessage.direction == "in", ChannelMessage.created_at >= since)),
        "escalations": count(select(func.count(Conversation.id)).where(Conversation.escalated_at >= since)),
        "waiting_now": count(select(func.count(Conversation.id)).where(Conversation.state == "waiting")),
        "median_wait_seconds": round(statistics.median(waits)) if waits else None,
        "answered": len(waits),
        "resolved": count(select(func.count(Conversation.id)).where(Conversation.resolved_at >= since)),
        "csat_average": round(float(csat[0]), 2) if csat[0] is not None else None,
        "csat_count": csat[1],
    }


def request_figures(session: Any, on: date) -> Dict[str, Any]:
    pairs = session.execute(select(ServiceRequest.service, ServiceRequest.status, func.count())
                            .group_by(ServiceRequest.service, ServiceRequest.status)).all()
    by_service: Counter = Counter()
    by_status: Counter = Counter()
    for service_code, status, n in pairs:
        by_service[service_code] += n
        by_status[canonical_status(status)] += n
    first_day = on - timedelta(days=SERIES_DAYS - 1)
    created = session.execute(select(ServiceRequest.created_at).where(
        ServiceRequest.created_at >= day_start(first_day))).scalars().all()
    per_day = Counter(as_local(t).date() for t in created)
    overdue = search_requests(session, RequestFilter(overdue=True), today=on, limit=20)
    return {
        "by_service": dict(by_service.most_common()), "by_status": dict(by_status),
        "per_day": [{"date": (first_day + timedelta(days=i)).isoformat(),
                     "count": per_day.get(first_day + timedelta(days=i), 0)} for i in range(SERIES_DAYS)],
        "overdue_count": count_requests(session, RequestFilter(overdue=True), today=on),
        "overdue": [request_summary(r, on) for r in overdue],
    }


def overview(on: Optional[date] = None) -> Dict[str, Any]:
    on = on or today()
    with session_scope() as session:
        return {"date": on.isoformat(), "today": conversation_figures(session, day_start(on)),
                "requests": request_figures(session, on)}


@routes.get("/api/overview")
async def overview_route(request: web.Request) -> web.Response:
    if not request["agent"].supervisor:
        return _error(403, "Chỉ giám sát viên được xem trang tổng quan.")
    return _json(await run_db(overview))


def add_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
