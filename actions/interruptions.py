"""Interruptions inside `service_form`: a question, another service or a correction asked while the
form runs (rules in data/rules.yml), and the free-text answer the NLU read as one of those.

While the form asks a free-text slot (`dlg.FREE_TEXT_SLOTS`), a statement the classifier read as
ask_procedure, request_service or report_outage is usually the answer itself; these helpers let the
interrupting actions validate it as that answer through the form engine (actions/forms.py).
"""
from __future__ import annotations

import logging
from typing import Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import dialogue as dlg
from actions.forms import FormTurn
from actions.tracker_helpers import active_form, latest_entity, latest_intent, latest_text
from bot.catalogue import Catalogue, load_catalogue
from bot.nlu.mentions import parse_service
from bot.nlu.questions import looks_like_question
from bot.settings import get_settings
from bot.validators import as_text

logger = logging.getLogger(__name__)


def answers_requested_slot(tracker: Tracker, catalogue: Catalogue) -> bool:
    """The latest message is typed text while the form asks a data slot (not a button, not the summary)."""
    text = latest_text(tracker)
    requested = tracker.get_slot(REQUESTED_SLOT)
    return bool(requested in catalogue.slots and requested != "confirm" and text and not text.startswith("/"))


def free_text_answer(tracker: Tracker, catalogue: Catalogue) -> bool:
    """The form asks a free-text slot (`dlg.FREE_TEXT_SLOTS`) and the latest message, whatever intent the NLU
    gave it, does not read as a question: it is the answer ("dời ra cột điện trước cổng" read as
    ask_procedure). Used by the actions of the mid-form interruption rules."""
    if active_form(tracker) != dlg.FORM_NAME or not answers_requested_slot(tracker, catalogue):
        return False
    return tracker.get_slot(REQUESTED_SLOT) in dlg.FREE_TEXT_SLOTS and not looks_like_question(latest_text(tracker))


def service_answer(tracker: Tracker, catalogue: Catalogue) -> bool:
    """The form asks which service and the latest typed message, whatever its intent, is not a question:
    it describes the service wanted ("nhà mới xây xong, cần có điện để ở" read as ask_procedure)."""
    if active_form(tracker) != dlg.FORM_NAME or tracker.get_slot(REQUESTED_SLOT) != "service":
        return False
    text = latest_text(tracker)
    return bool(text) and not text.startswith("/") and not looks_like_question(text)


def validate_as_answer(tracker: Tracker, dispatcher: CollectingDispatcher,
                       catalogue: Catalogue) -> Optional[list[EventType]]:
    """Validates the latest message as the answer to the slot the form asks (the events of that turn);
    None when validation crashed (logged)."""
    candidates = {tracker.get_slot(REQUESTED_SLOT): latest_text(tracker)}
    try:
        return FormTurn(tracker, dispatcher, catalogue, candidates=candidates).run()
    except Exception:  # noqa: BLE001
        logger.exception("answer inside a service request failed in %s", tracker.sender_id)
        return None


class ActionRequestSwitch(Action):
    """A service named while the form runs (intents request_service, report_outage, complain).

    Another service: ask before switching (the form asks `switch_service`). The same service, none, one the
    customer already declined to switch to, or a free-text answer that says more than the service's name:
    the message was the answer to the question being asked ("dời ra cột điện đầu ngõ" read as a relocation
    request), so it is validated as that answer. The form goes on after this action (rule)."""

    def name(self) -> str:
        return "action_request_switch"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        catalogue = load_catalogue()
        current = dlg.service_of(tracker.get_slot("service"), catalogue)
        text = latest_text(tracker)
        code = (dlg.INTENT_SERVICE.get(latest_intent(tracker) or "") or latest_entity(tracker, "service")
                or parse_service(as_text(text), catalogue))
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

    def name(self) -> str:
        return "action_start_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if active_form(tracker) == dlg.FORM_NAME:
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
