"""`service_form`: one dynamic form for every catalogue service.

`validate_service_form` decides what to ask from the catalogue (slots of the service in slot
`service`, then `confirm`), validates every value the customer gave this turn (the answer to the
question, plus entities such as a phone typed in the same message), looks the customer code up in
the customer table, checks planned outages for outage reports, counts failed tries per slot and
handles the confirmation/correction/switch steps. `action_ask_<slot>` actions word the questions
from the catalogue. Nothing here is specific to one service except the planned-outage check of
`outage_report`.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from bot import dialogue as dlg
from bot import validators as val
from bot.catalogue import Catalogue, Service, load_catalogue
from bot.db.models import LOCAL_TZ_NAME
from bot.db.repository import corporation_has_customers, get_customer, planned_outages
from bot.db.session import session_scope
from bot.settings import get_settings

logger = logging.getLogger(__name__)

try:
    from zoneinfo import ZoneInfo

    _LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)
except Exception:  # pragma: no cover - slim containers without tzdata; Vietnam has no DST
    from datetime import timedelta

    _LOCAL_TZ = timezone(timedelta(hours=7))


def today() -> date:
    """Today in Vietnam (module-level so tests can pin it)."""
    return datetime.now(_LOCAL_TZ).date()


def now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- database look-ups

@dataclass(frozen=True)
class CustomerLookup:
    status: str  # "known" | "unknown" | "unchecked" (corporation not loaded, or database trouble)
    data: Dict[str, Any] = field(default_factory=dict)


def lookup_customer(code: str, corporation: str) -> CustomerLookup:
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


def current_planned_outage(customer_code: Optional[str], address: Optional[str]) -> Optional[Dict[str, str]]:
    """Notice of a planned outage covering now for the customer's unit code or address, else None."""
    if not customer_code and not address:
        return None
    try:
        with session_scope() as session:
            moment = now()
            rows = planned_outages(session, customer_code=customer_code, area=address, start=moment, end=moment)
            if not rows:
                return None
            outage = rows[0]
            return dlg.outage_notice(outage.area, outage.start_at, outage.end_at, outage.reason)
    except Exception:  # noqa: BLE001
        logger.exception("planned outage look-up failed")
        return None


# --------------------------------------------------------------------------- tracker helpers

def previous_value(tracker: Tracker, slot: str) -> Any:
    """Value of `slot` before the latest user message (what this turn may have overwritten)."""
    last_user = max((i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=len(tracker.events))
    value = None
    for event in tracker.events[:last_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
        elif event.get("event") in ("restart", "session_started"):
            value = None
    return value


def latest_intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, name: str) -> Optional[str]:
    for value in tracker.get_latest_entity_values(name):
        if value not in (None, ""):
            return str(value)
    return None


# --------------------------------------------------------------------------- validation of one turn

class FormTurn:
    """Validation of the slot candidates of one user turn (see `ValidateServiceForm`)."""

    def __init__(self, tracker: Tracker, dispatcher: CollectingDispatcher, catalogue: Catalogue,
                 candidates: Optional[Dict[str, Any]] = None) -> None:
        self.tracker = tracker
        self.dispatcher = dispatcher
        self.cat = catalogue
        self.today = today()
        self.candidates: Dict[str, Any] = tracker.slots_to_validate() if candidates is None else candidates
        self.requested: Optional[str] = tracker.get_slot(REQUESTED_SLOT)
        self.updates: Dict[str, Any] = {}
        self.messages: List[str] = []
        self.fails: Dict[str, int] = dict(tracker.get_slot("failed_tries") or {})
        self.error: Optional[Dict[str, Any]] = None
        self.filled: set = set()
        self.failed: List[Tuple[str, str]] = []
        self.corrected: Optional[str] = None
        self.intro: Optional[Service] = None
        self.known_customer: Optional[Tuple[str, Dict[str, Any]]] = None
        self.prefilled: List[str] = []

    # -- state
    def get(self, slot: str) -> Any:
        return self.updates[slot] if slot in self.updates else self.tracker.get_slot(slot)

    def set(self, slot: str, value: Any) -> None:
        self.updates[slot] = value

    @property
    def service(self) -> Optional[Service]:
        return dlg.service_of(self.get("service"), self.cat)

    # -- the turn
    def run(self) -> List[EventType]:
        c = self.candidates
        if self.get("service") is not None and self.service is None and "service" not in c:
            self.set("service", None)  # stale code (catalogue changed): ask again
        if "service" in c:
            self._service(c["service"])
        if "switch_service" in c:
            self._switch(c["switch_service"])
        if "report_anyway" in c:
            self._report_anyway(c["report_anyway"])
        if "confirm" in c:
            self._confirm(c["confirm"])
        if "edit_field" in c:
            self._edit_field(c["edit_field"])
        self._data_slots()
        self._scan_requested_text()
        self._forget_old_prefill()
        self._prefill()
        self._description_from_first_message()
        self._failures()
        self._outage_check()
        if "confirm" in c and self.get("confirm") is True and self._missing_fields():
            self.set("confirm", None)  # "yes" before everything was collected: the summary comes later
        if self.fails != dict(self.tracker.get_slot("failed_tries") or {}):
            self.set("failed_tries", self.fails or None)
        if self.error:
            self.set("slot_error", self.error)
        self._intro_message()
        for text in self.messages:
            self.dispatcher.utter_message(text=text)
        values = dict(c)
        values.update(self.updates)
        return [SlotSet(name, value) for name, value in values.items()]

    def _missing_fields(self) -> List[str]:
        service = self.service
        return [s for s in service.slots if self.get(s) is None] if service else ["service"]

    # -- steps
    def _service(self, value: Any) -> None:
        code = val.parse_service(value, self.cat)
        if code is None:
            self.set("service", None)
            self.error = {"slot": "service", "text": "Em chưa rõ anh/chị cần đăng ký dịch vụ nào."}
            return
        self.set("service", code)
        self.intro = self.cat.services[code]

    def _switch(self, value: Any) -> None:
        target = dlg.service_of(self.get("pending_service"), self.cat)
        if value is True and target is not None:
            self.updates.update(dlg.switch_values(target, self.cat))
            self.intro = target
            return
        if target is not None:
            self.set("declined_service", target.code)  # named again later: an answer, not a new switch
        self.set("pending_service", None)
        self.set("switch_service", None)
        if self.service:
            self.messages.append(f"Dạ, mình tiếp tục đăng ký {dlg.lower_first(self.service.vi)} nhé.")

    def _report_anyway(self, value: Any) -> None:
        if value is False:
            self.set("report_anyway", False)
            self.set("stop_form", True)
            notice = self.get("outage_notice") or {}
            end = f" (dự kiến {notice['end']})" if notice.get("end") else ""
            self.messages.append(
                f"Dạ vâng. Điện sẽ được cấp lại khi công việc theo kế hoạch hoàn thành{end}. Nếu quá thời "
                "gian đó vẫn chưa có điện, anh/chị nhắn em để báo mất điện nhé.")
        else:
            self.set("report_anyway", True)

    def _confirm(self, value: Any) -> None:
        if value is True:
            self.set("confirm", True)
            self.set("correcting", None)
            self.set("edit_field", None)
        else:
            self.set("confirm", None)
            self.set("correcting", True)

    def _edit_field(self, value: Any) -> None:
        service = self.service
        self.set("edit_field", None)
        if service is None:
            return
        allowed = [s for s in dlg.form_fields(service) if s in service.slots or self.get(s) is not None]
        name = val.parse_field(value, self.cat, allowed)
        if name is None:
            other = val.parse_field(value, self.cat)
            self.set("correcting", True)
            self.set("confirm", None)
            reason = (f"Yêu cầu này không có mục {dlg.lower_first(dlg.label(other, self.cat))}."
                      if other else "Em chưa rõ anh/chị muốn sửa thông tin nào.")
            self.error = {"slot": "edit_field", "text": reason}
            return
        self.set(name, None)
        self.set("correcting", None)
        self.set("confirm", None)
        self.fails.pop(name, None)
        self.corrected = name

    def _data_slots(self) -> None:
        service = self.service
        order = list(dlg.form_fields(service)) if service else []
        names = [s for s in self.candidates if s in self.cat.slots and s != "confirm"]
        names.sort(key=lambda s: (s != "customer_code", order.index(s) if s in order else len(order)))
        for name in names:
            value = self.candidates[name]
            if value is None or (isinstance(value, str) and not value.strip()):
                self.set(name, None)
                continue
            self._validate_data_slot(name, value)

    def _validate_data_slot(self, name: str, value: Any) -> None:
        if name == "customer_code":
            check = self._check_customer_code(value)
        else:
            check = val.validate_slot(name, value, self.cat, self.today)
        if check.ok:
            self.set(name, check.value)
            self.fails.pop(name, None)
            self.filled.add(name)
        else:
            self.set(name, None)
            self.failed.append((name, check.error))

    def _check_customer_code(self, value: Any) -> val.Check:
        check = val.validate_customer_code(value, self.cat)
        if not check.ok:
            return check
        code, corp = check.value.code, check.value.corporation
        found = lookup_customer(code, corp.code)
        if found.status == "unknown":
            return val.invalid(f"Em không tìm thấy mã khách hàng {code} trong dữ liệu của {corp.vi}; "
                               "anh/chị kiểm tra lại mã in trên hóa đơn tiền điện giúp em.")
        if found.status == "known":
            self.known_customer = (code, found.data)
        return val.valid(code)

    def _scan_requested_text(self) -> None:
        """A customer code, phone or email typed inside the answer to another question fills its slot
        too (when the NLU did not tag it as an entity)."""
        service = self.service
        text = self.candidates.get(self.requested) if self.requested else None
        if service is None or not isinstance(text, str):
            return
        fields = dlg.form_fields(service)
        finders = (("customer_code", val.find_customer_code), ("phone", val.normalise_phone),
                   ("email", lambda t: val.validate_email(t).value))
        for name, finder in finders:
            if name == self.requested or name not in fields or name in self.candidates or self.get(name) is not None:
                continue
            found = finder(text)
            if found:
                self._validate_data_slot(name, found)

    def _forget_old_prefill(self) -> None:
        """A new customer code: values that came from the old code's record (and were not changed since)
        are cleared, so they are taken from the new record or asked again."""
        old = self.tracker.get_slot("prefilled_fields") or {}
        if "customer_code" not in self.filled or not old or old.get("customer_code") == self.get("customer_code"):
            return
        for name, value in old.items():
            if name != "customer_code" and name not in self.filled and self.get(name) == value:
                self.set(name, None)
        self.set("prefilled_fields", None)

    def _prefill(self) -> None:
        service = self.service
        if service is None or not service.prefill_from_customer:
            return
        if self.known_customer is None and self.intro is not None and self.get("customer_code") \
                and "customer_code" not in self.candidates:
            corp = self.cat.route(self.get("customer_code"))
            if corp:
                found = lookup_customer(self.get("customer_code"), corp.code)
                if found.status == "known":
                    self.known_customer = (self.get("customer_code"), found.data)
        if self.known_customer is None:
            return
        _, data = self.known_customer
        fields = dlg.form_fields(service)
        for name in dlg.PREFILL_FROM_CUSTOMER:
            if name in fields and self.get(name) is None and data.get(name):
                self.set(name, data[name])
                self.fails.pop(name, None)
                self.prefilled.append(name)
        if self.prefilled:
            record = dict(self.get("prefilled_fields") or {})
            record.update({name: self.get(name) for name in self.prefilled})
            record["customer_code"] = self.known_customer[0]
            self.set("prefilled_fields", record)

    def _failures(self) -> None:
        settings = get_settings()
        for name, reason in self.failed:
            if self.get(name) is not None:
                continue  # filled from the customer table after all
            if name == self.requested:
                if (self.filled - {name}) or self.prefilled or self.corrected:
                    continue  # the message answered something else; just ask again
                count = self.fails.get(name, 0) + 1
                if count >= dlg.MAX_FAILED_TRIES:
                    self.fails.pop(name, None)
                    text = reason + "\n" + dlg.escalation_text(self.get("customer_code"), settings.default_hotline)
                    self.error = {"slot": name, "text": text, "escalate": True}
                else:
                    self.fails[name] = count
                    self.error = {"slot": name, "text": reason}
            else:
                before = previous_value(self.tracker, name)
                if before is not None and before != self.candidates.get(name):
                    self.set(name, before)  # keep the good value given earlier
                if self.error is None:
                    self.error = {"slot": name, "text": reason}

    def _outage_check(self) -> None:
        service = self.service
        if service is None or service.code != dlg.OUTAGE_SERVICE:
            return
        if self.get("outage_notice") is not None or self.get("report_anyway") is not None or self.get("stop_form"):
            return
        changed = {"customer_code", "address"} & (self.filled | set(self.prefilled))
        if not changed and self.intro is None:
            return
        notice = current_planned_outage(self.get("customer_code"), self.get("address"))
        if notice:
            self.set("outage_notice", notice)

    def _description_from_first_message(self) -> None:
        service = self.intro
        if service is None or "description" not in service.slots or self.get("description") is not None:
            return
        if self.requested not in (None, "service") or self.candidates.get("description") is not None:
            return
        found = dlg.description_from_message((self.tracker.latest_message or {}).get("text") or "", service)
        if found:
            self.set("description", found)

    def _intro_message(self) -> None:
        if self.intro is not None:
            known = {s: self.get(s) for s in self.intro.slots if self.get(s) is not None}
            note = self._prefill_note() if self.prefilled else ""
            self.messages.insert(0, dlg.service_intro(self.intro, known, self.cat, note))
        elif self.prefilled:
            details = "; ".join(f"{dlg.label(s, self.cat)}: {self.get(s)}" for s in self.prefilled)
            self.messages.append(f"{self._prefill_note()} {details}. Anh/chị kiểm tra lại ở bước xác nhận nhé.")

    def _prefill_note(self) -> str:
        code = self.known_customer[0] if self.known_customer else self.get("customer_code")
        labels = ", ".join(dlg.lower_first(dlg.label(s, self.cat)) for s in self.prefilled)
        return f"Em lấy {labels} theo hồ sơ của mã khách hàng {code}."


class ValidateServiceForm(FormValidationAction):
    """Validation and dynamic required slots of `service_form`."""

    def name(self) -> Text:
        return "validate_service_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        """The catalogue's slots for slot `service` followed by `confirm` (plus the switch/outage/
        correction question while one of those is pending); `["service"]` until the service is known."""
        return dlg.ask_order(dlg.service_of(tracker.get_slot("service")), tracker.slots)

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Optional[EventType]:
        order = await self.required_slots([], dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, dlg.first_missing(order, tracker.slots))

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        try:
            return FormTurn(tracker, dispatcher, load_catalogue()).run()
        except Exception:  # noqa: BLE001 - never let one bad message kill the conversation
            logger.exception("validate_service_form failed in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text="Xin lỗi, em gặp trục trặc khi kiểm tra thông tin vừa nhập. "
                                          "Anh/chị gửi lại giúp em nhé.")
            return [SlotSet(name, None) for name in tracker.slots_to_validate()]


# --------------------------------------------------------------------------- questions

class _AskBase(Action, ABC):
    """Asks one slot; shows the validation problem of the previous answer first (slot `slot_error`)."""

    @abstractmethod
    def name(self) -> Text: ...

    @abstractmethod
    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> Tuple[str, List[Dict[str, str]]]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        catalogue = load_catalogue()
        service = dlg.service_of(tracker.get_slot("service"), catalogue)
        error = tracker.get_slot("slot_error")
        try:
            text, buttons = self.prompt(tracker, service, catalogue)
        except Exception:  # noqa: BLE001
            logger.exception("%s failed", self.name())
            text, buttons = "Anh/chị cho em xin thông tin tiếp theo giúp em ạ.", []
        if isinstance(error, dict) and error.get("text"):
            text = f"{error['text']}\n{text}"
            if error.get("escalate"):
                buttons = dlg.HELP_BUTTONS + buttons
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet("slot_error", None)] if error else []


class _AskDataSlot(_AskBase, ABC):
    slot: str = ""

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> Tuple[str, List[Dict[str, str]]]:
        return dlg.question(self.slot, service, catalogue), dlg.choice_buttons(self.slot, catalogue)


def _make_ask_action(slot: str) -> type:
    camel = "".join(part.capitalize() for part in slot.split("_"))
    return type(f"ActionAsk{camel}", (_AskDataSlot,),
                {"slot": slot, "name": lambda self, _s=slot: f"action_ask_{_s}", "__module__": __name__})


# One `action_ask_<slot>` per catalogue slot (confirm has its own summary action below).
ASK_ACTIONS = {slot: _make_ask_action(slot) for slot in load_catalogue().slots if slot != "confirm"}


class ActionAskService(_AskBase):
    def name(self) -> Text:
        return "action_ask_service"

    def prompt(self, tracker, service, catalogue):
        example = next((s.phrases[0] for s in catalogue.services.values() if s.phrases), "")
        text = "Anh/chị muốn đăng ký dịch vụ nào ạ? Anh/chị chọn bên dưới hoặc gõ tên dịch vụ"
        return text + (f" (ví dụ: {example})." if example else "."), dlg.service_buttons(catalogue)


class ActionAskSwitchService(_AskBase):
    def name(self) -> Text:
        return "action_ask_switch_service"

    def prompt(self, tracker, service, catalogue):
        target = dlg.service_of(tracker.get_slot("pending_service"), catalogue)
        if service is None or target is None:
            return "Anh/chị muốn chuyển sang dịch vụ khác không ạ?", dlg.YES_NO_BUTTONS
        text = (f"Anh/chị đang đăng ký {dlg.lower_first(service.vi)}. Anh/chị muốn chuyển sang "
                f"{dlg.lower_first(target.vi)} không ạ? Họ tên, số điện thoại đã nhập em vẫn giữ lại.")
        buttons = [{"title": f"Chuyển sang {dlg.lower_first(target.short)}", "payload": "/affirm"},
                   {"title": f"Tiếp tục {dlg.lower_first(service.short)}", "payload": "/deny"}]
        return text, buttons


class ActionAskReportAnyway(_AskBase):
    def name(self) -> Text:
        return "action_ask_report_anyway"

    def prompt(self, tracker, service, catalogue):
        notice = tracker.get_slot("outage_notice") or {}
        text = (notice.get("text", "") + "\n" if isinstance(notice, dict) else "") + \
            "Anh/chị vẫn muốn báo mất điện chứ ạ?"
        return text, [{"title": "Vẫn báo mất điện", "payload": "/affirm"},
                      {"title": "Không cần", "payload": "/deny"}]


class ActionAskEditField(_AskBase):
    def name(self) -> Text:
        return "action_ask_edit_field"

    def prompt(self, tracker, service, catalogue):
        if service is None:
            return "Anh/chị muốn sửa thông tin nào ạ?", []
        buttons = dlg.field_buttons(service, tracker.slots, catalogue)
        if not any(tracker.get_slot(s) is None for s in service.slots):
            buttons.append({"title": "Thông tin đã đúng", "payload": "/affirm"})
        return "Anh/chị muốn sửa thông tin nào ạ? Anh/chị chọn bên dưới hoặc gõ tên mục cần sửa.", buttons


class ActionAskConfirm(_AskBase):
    def name(self) -> Text:
        return "action_ask_confirm"

    def prompt(self, tracker, service, catalogue):
        if service is None:
            return "Anh/chị xác nhận thông tin trên đã đúng chưa ạ?", dlg.YES_NO_BUTTONS
        return dlg.summary(service, tracker.slots, catalogue), dlg.YES_NO_BUTTONS


# --------------------------------------------------------------------------- interruptions inside the form

def answers_requested_slot(tracker: Tracker, catalogue: Catalogue) -> bool:
    """The latest message is typed text while the form asks a data slot (not a button, not the summary)."""
    text = (tracker.latest_message or {}).get("text") or ""
    requested = tracker.get_slot(REQUESTED_SLOT)
    return bool(requested in catalogue.slots and requested != "confirm" and text and not text.startswith("/"))


def free_text_answer(tracker: Tracker, catalogue: Catalogue) -> bool:
    """The form asks a free-text slot (`dlg.FREE_TEXT_SLOTS`) and the latest message, whatever intent the NLU
    gave it, does not read as a question: it is the answer ("dời ra cột điện trước cổng" read as
    ask_procedure). Used by the actions of the mid-form interruption rules."""
    if (tracker.active_loop or {}).get("name") != dlg.FORM_NAME or not answers_requested_slot(tracker, catalogue):
        return False
    text = (tracker.latest_message or {}).get("text") or ""
    return tracker.get_slot(REQUESTED_SLOT) in dlg.FREE_TEXT_SLOTS and not val.looks_like_question(text)


def validate_as_answer(tracker: Tracker, dispatcher: CollectingDispatcher,
                       catalogue: Catalogue) -> Optional[List[EventType]]:
    """Validates the latest message as the answer to the slot the form asks (the events of that turn);
    None when validation crashed (logged)."""
    text = (tracker.latest_message or {}).get("text") or ""
    try:
        return FormTurn(tracker, dispatcher, catalogue, candidates={tracker.get_slot(REQUESTED_SLOT): text}).run()
    except Exception:  # noqa: BLE001
        logger.exception("answer inside a service request failed in %s", tracker.sender_id)
        return None


class ActionRequestSwitch(Action):
    """A service named while the form runs (intents request_service, report_outage, complain).

    Another service: ask before switching (the form asks `switch_service`). The same service, none, one the
    customer already declined to switch to, or a free-text answer that says more than the service's name:
    the message was the answer to the question being asked ("dời ra cột điện đầu ngõ" read as a relocation
    request), so it is validated as that answer. The form goes on after this action (rule)."""

    def name(self) -> Text:
        return "action_request_switch"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        catalogue = load_catalogue()
        current = dlg.service_of(tracker.get_slot("service"), catalogue)
        text = (tracker.latest_message or {}).get("text") or ""
        code = (dlg.INTENT_SERVICE.get(latest_intent(tracker) or "") or latest_entity(tracker, "service")
                or val.parse_service(text, catalogue))
        target = dlg.service_of(code, catalogue)
        requested = tracker.get_slot(REQUESTED_SLOT)
        if current is None:
            return []
        answers_question = answers_requested_slot(tracker, catalogue)
        # "đồng hồ điện chạy nhanh từ tháng trước" typed as a description names a service but is the answer;
        # "à thôi cho mình đổi hình thức thanh toán" is not
        described = (answers_question and requested in dlg.FREE_TEXT_SLOTS and target is not None
                     and len(dlg.content_words(text, target)) >= 3)
        if target is None or described or target.code in (current.code, tracker.get_slot("declined_service")):
            if answers_question:
                events = validate_as_answer(tracker, dispatcher, catalogue)
                if events is not None:
                    return events
            dispatcher.utter_message(text=f"Dạ, em đang ghi nhận yêu cầu {dlg.lower_first(current.vi)} "
                                          "cho anh/chị đây ạ.")
            return []
        if tracker.get_slot("pending_service") == target.code:  # asked again while we ask: that is a yes
            values = dlg.switch_values(target, catalogue)
            known = {s: tracker.get_slot(s) for s in target.slots
                     if values.get(s, tracker.get_slot(s)) is not None}
            dispatcher.utter_message(text=dlg.service_intro(target, known, catalogue))
            return [SlotSet(k, v) for k, v in values.items()]
        return [SlotSet("pending_service", target.code), SlotSet("switch_service", None)]


class ActionStartCorrection(Action):
    """`correct_field` without a field name: inside the form ask which field (the form asks it);
    after a submission, explain how to change a request already sent."""

    def name(self) -> Text:
        return "action_start_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if (tracker.active_loop or {}).get("name") == dlg.FORM_NAME:
            return [SlotSet("correcting", True), SlotSet("edit_field", None), SlotSet("confirm", None)]
        code = tracker.get_slot("request_code")
        hotline = dlg.hotline_text(tracker.get_slot("customer_code"), get_settings().default_hotline)
        if code:
            dispatcher.utter_message(
                text=f"Yêu cầu {code} đã được gửi đi nên em không sửa trực tiếp được. Anh/chị gọi {hotline} "
                     "và đọc mã yêu cầu để được điều chỉnh, hoặc đăng ký lại yêu cầu mới với thông tin đúng ạ.")
        else:
            dispatcher.utter_message(text="Hiện không có yêu cầu nào đang nhập dở để sửa ạ. "
                                          "Anh/chị cần em hỗ trợ gì ạ?")
        return []
