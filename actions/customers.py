"""Database look-ups of the service form: the customer behind a customer code and a planned outage
covering now. A database problem never breaks the conversation: it is logged and the form goes on
without the check."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from actions.dialogue import outage_notice
from bot.db.repository import corporation_has_customers, get_customer, planned_outages
from bot.db.session import session_scope
from bot.localtime import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerLookup:
    status: str  # "known" | "unknown" | "unchecked" (corporation not loaded, or database trouble)
    data: dict[str, Any] = field(default_factory=dict)


def lookup_customer(code: str, corporation: str) -> CustomerLookup:
    """The customer record of a code, as far as the loaded data can tell (see `CustomerLookup.status`)."""
    try:
        with session_scope() as session:
            if not corporation_has_customers(session, corporation):
                return CustomerLookup("unchecked")
            customer = get_customer(session, code)
            if customer is None:
                return CustomerLookup("unknown")
            return CustomerLookup("known", {"full_name": customer.full_name, "phone": customer.phone,
                                            "address": customer.address})
    except Exception:  # noqa: BLE001 - a database problem must not break the conversation
        logger.exception("customer look-up failed for %s", code)
        return CustomerLookup("unchecked")


def current_planned_outage(customer_code: Optional[str], address: Optional[str]) -> Optional[dict[str, str]]:
    """Notice of a planned outage covering now for the customer's unit code or address, else None."""
    if not customer_code and not address:
        return None
    try:
        with session_scope() as session:
            moment = utcnow()
            rows = planned_outages(session, customer_code=customer_code, area=address, start=moment, end=moment)
            if not rows:
                return None
            outage = rows[0]
            return outage_notice(outage.area, outage.start_at, outage.end_at, outage.reason)
    except Exception:  # noqa: BLE001
        logger.exception("planned outage look-up failed")
        return None
