"""`service_form`: one dynamic form for every catalogue service (the form-turn engine).

`validate_service_form` decides what to ask from the catalogue (slots of the service in slot
`service`, then `confirm`), validates every value the customer gave this turn (the answer to the
question, plus entities such as a phone typed in the same message), looks the customer code up in
the customer table, checks planned outages for outage reports, counts failed tries per slot and
handles the confirmation/correction/switch steps. The questions are worded by the ask actions
(actions/ask.py); questions and other services named mid-form are handled in actions/interruptions.py.
Nothing here is specific to one service except the planned-outage check of `outage_report`.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import dialogue as dlg
from actions.customers import current_planned_outage, lookup_customer
from actions.forgiving import offered_service, service_from_words
from actions.tracker_helpers import held_by_person, latest_intent, latest_text, previous_value
from bot import validators as val
from bot.catalogue import Catalogue, Service, load_catalogue
from bot.localtime import today
from bot.nlu.mentions import parse_field
from bot.nlu.situations import describes_outage
from bot.settings import get_settings

logger = logging.getLogger(__name__)


class FormTurn:
    """Validation of the slot candidates of one user turn (see `ValidateServiceForm`).

    `run()` takes the steps in this order; each step may use what the earlier ones decided:

    1. the service: a stale code is dropped, a named service is parsed (it decides which slots belong to
       the form and makes the intro message);
    2. the answers to the form's own questions: switch to another service, report despite a planned
       outage, the confirmation, and which field to correct (that field is cleared to be asked again);
    3. the data slots given this turn, the customer code first (it is looked up and its record may
       prefill other fields), then in the order the form asks them;
    4. a customer code, phone or email typed inside the answer to another question;
    5. values prefilled from an earlier customer code are forgotten when the code changed, then the
       known customer's record fills the fields still empty (typed values always win);
    6. an outage report or complaint takes its first message as the description;
    7. failed answers: a failure counts only when the message answered nothing else; the third one in a
       row adds the hotline; an earlier good value the message overwrote is kept;
    8. the planned-outage check of an outage report, once the customer code or address is known;
    9. bookkeeping: a "yes" before every field is collected is dropped (the summary comes later), the
       failure counters and the error to show with the next question are stored, messages are sent
       (the intro first).
    """

    def __init__(self, tracker: Tracker, dispatcher: CollectingDispatcher, catalogue: Catalogue,
                 candidates: Optional[dict[str, Any]] = None) -> None:
        self.tracker = tracker
        self.dispatcher = dispatcher
        self.cat = catalogue
        self.today = today()
        self.candidates: dict[str, Any] = tracker.slots_to_validate() if candidates is None else candidates
        self.requested: Optional[str] = tracker.get_slot(REQUESTED_SLOT)
        self.updates: dict[str, Any] = {}
        self.messages: list[str] = []
        self.fails: dict[str, int] = dict(tracker.get_slot("failed_tries") or {})
        self.error: Optional[dict[str, Any]] = None
        self.filled: set[str] = set()
        self.failed: list[tuple[str, str]] = []
        self.corrected: Optional[str] = None
        self.intro: Optional[Service] = None
        self.known_customer: Optional[tuple[str, dict[str, Any]]] = None
        self.prefilled: list[str] = []

    # -- state
    def get(self, slot: str) -> Any:
        return self.updates[slot] if slot in self.updates else self.tracker.get_slot(slot)

    def set(self, slot: str, value: Any) -> None:
        self.updates[slot] = value

    @property
    def service(self) -> Optional[Service]:
        return dlg.service_of(self.get("service"), self.cat)

    # -- the turn
    def run(self) -> list[EventType]:
        c = self.candidates
        if self.get("service") is not None and self.service is None and "service" not in c:
            self.set("service", None)  # stale code (catalogue changed): ask again
        if "service" in c:
            self._service(c["service"])
        elif self.get("service") is None:
            self._service_not_named()
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
        self._offer_outage_report()
        self._failures()
        self._outage_check()
        if "confirm" in c and self.get("confirm") is True and self._missing_fields():
            self.set("confirm", None)  # "yes" before everything was collected: the summary comes later
        self._void_confirm_if_changed()
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

    def _void_confirm_if_changed(self) -> None:
        """A "yes" that also changes a field ("đúng rồi, số em là 09..." or a crafted `/affirm{"phone":..}`)
        confirms nothing: the customer has not seen the new value. The summary is shown again."""
        if self.get("confirm") is not True or "confirm" not in self.candidates:
            return
        service = self.service
        fields = dlg.form_fields(service) if service else ()
        changed = [s for s in fields if s in self.updates and self.get(s) != previous_value(self.tracker, s)]
        if changed:
            self.set("confirm", None)
            self.error = {"slot": "confirm", "text": "Em đã cập nhật thông tin anh/chị vừa gửi; anh/chị xem "
                                                     "lại trước khi xác nhận giúp em nhé."}

    def _missing_fields(self) -> list[str]:
        service = self.service
        return [s for s in service.slots if self.get(s) is None] if service else ["service"]

    # -- steps
    def _service(self, value: Any) -> None:
        code = service_from_words(val.as_text(value), self.cat)
        if code is None:
            self.set("service", None)
            self.error = {"slot": "service", "text": "Em chưa rõ anh/chị cần đăng ký dịch vụ nào."}
            return
        self.set("service", code)
        self.intro = self.cat.services[code]

    def _service_not_named(self) -> None:
        """No service in this turn: a "yes"/"đăng ký luôn" right after a procedure answer registers the
        service it was about; a request told as a situation ("quán mới lắp 3 máy lạnh") its service."""
        intent = latest_intent(self.tracker)
        code = offered_service(self.tracker) if intent in ("affirm", "request_service") else None
        if code is None and intent == "request_service" and self.requested is None:
            code = service_from_words(latest_text(self.tracker), self.cat)
        if code is not None:
            self._service(code)

    def _offer_outage_report(self) -> None:
        """A complaint that tells of a power cut happening now ("mất điện từ sáng mà chưa ai đến") is asked
        first whether to report the outage instead (the switch question; the description is kept)."""
        if self.intro is None or self.intro.code != "complaint" or "outage_report" not in self.cat.services:
            return
        if self.get("pending_service") or not describes_outage(latest_text(self.tracker)):
            return
        self.set("pending_service", "outage_report")
        self.set("switch_service", None)

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
        name = parse_field(val.as_text(value), self.cat, allowed)
        if name is None:
            other = parse_field(val.as_text(value), self.cat)
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
        if self.intro is not None and self.get("pending_service") and not self.get("switch_service"):
            return  # the switch question comes first; the intro follows the customer's choice
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
    """Validation and dynamic required slots of `service_form`.

    rasa-sdk's `validate_<slot>` hooks are bypassed on purpose: `get_validation_events` is overridden to
    run one `FormTurn` over all the slot candidates of the turn. The hooks see one slot at a time, in no
    chosen order, and need one method per slot; this form serves every catalogue service (its slots come
    from data/services.yml, so a new service needs no Python), and the candidates of one turn depend on
    each other: the service decides which slots belong, the customer code is looked up first and its
    record prefills name, phone and address, and a failed answer counts only when the message filled
    nothing else.
    """

    def name(self) -> str:
        return "validate_service_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        """The catalogue's slots for slot `service` followed by `confirm` (plus the switch/outage/
        correction question while one of those is pending); `["service"]` until the service is known."""
        return dlg.ask_order(dlg.service_of(tracker.get_slot("service")), tracker.slots)

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Optional[EventType]:
        order = await self.required_slots([], dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, dlg.first_missing(order, tracker.slots))

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        if held_by_person(tracker):
            return []  # the message that escalated is no answer; the form waits for the hand-back
        try:
            return FormTurn(tracker, dispatcher, load_catalogue()).run()
        except Exception:  # noqa: BLE001 - never let one bad message kill the conversation
            logger.exception("validate_service_form failed in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text="Xin lỗi, em gặp trục trặc khi kiểm tra thông tin vừa nhập. "
                                          "Anh/chị gửi lại giúp em nhé.")
            return [SlotSet(name, None) for name in tracker.slots_to_validate()]
