"""End of `service_form`: store the confirmed request exactly once, or cancel cleanly."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import dialogue as dlg
from actions.tracker_helpers import escalation_context
from bot.catalogue import load_catalogue
from bot.db.repository import NewRequest, create_request
from bot.db.session import session_scope
from bot.settings import get_settings
from bot.takeover import escalation

logger = logging.getLogger(__name__)


def reset_events(**extra: Any) -> list[EventType]:
    """Events that end a form: `dlg.reset_slots()` plus `extra` slot values."""
    values = dlg.reset_slots()
    values.update(extra)
    return [SlotSet(name, value) for name, value in values.items()]


class ActionSubmitRequest(Action):
    """Runs when the form is done. Confirmed: store the request (idempotent), reply with the code,
    due date, documents, fee and hotline, then clear the service-specific slots. Not confirmed (the
    form was stopped, e.g. a planned outage the customer did not report): only clear."""

    def name(self) -> str:
        return "action_submit_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        catalogue = load_catalogue()
        settings = get_settings()
        service = dlg.service_of(tracker.get_slot("service"), catalogue)
        if tracker.get_slot("stop_form") or tracker.get_slot("confirm") is not True:
            return reset_events()
        if service is None:
            logger.error("submission without a known service in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text="Xin lỗi, em chưa rõ anh/chị đăng ký dịch vụ nào nên chưa gửi được "
                                          "yêu cầu. Anh/chị cho em biết lại dịch vụ cần đăng ký nhé.")
            return reset_events()
        fields = dlg.collected_fields(service, tracker.slots)
        key = dlg.idempotency_key(tracker.sender_id, service.code, fields)
        new = NewRequest(
            service=service.code, fields=fields, idempotency_key=key,
            channel=tracker.get_latest_input_channel() or "unknown", conversation_id=tracker.sender_id,
            customer_code=fields.get("customer_code"), phone=fields.get("phone"),
        )
        try:
            with session_scope() as session:
                request, created = create_request(session, new)
                code, due, corp_code = request.code, request.due_date, request.corporation
        except Exception:  # noqa: BLE001 - answer politely, keep the data so a retry stores it once
            logger.exception("storing a %s request failed in conversation %s", service.code, tracker.sender_id)
            hotline = dlg.hotline_text(fields.get("customer_code"), settings.default_hotline)
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống đang bận nên em chưa lưu được yêu cầu. Thông tin anh/chị nhập em vẫn "
                     "giữ; anh/chị nhắn lại \"đăng ký\" sau ít phút để gửi lại, hoặc gọi " + hotline + " ạ.",
                buttons=[{"title": "Gửi lại", "payload": dlg.payload("request_service", {"service": service.code})}])
            return [SlotSet("confirm", None), SlotSet("requested_slot", None)]
        corporation = catalogue.corporations.get(corp_code) if corp_code else None
        dispatcher.utter_message(text=dlg.submission_text(service, code, due, corporation,
                                                          settings.default_hotline, created))
        # one payload for every channel; each renders it (card, template or text: connectors/base/output.py)
        dispatcher.utter_message(json_message=dlg.submission_card(
            service, code, due, corporation, settings.default_hotline))
        logger.info("request %s (%s) %s for conversation %s", code, service.code,
                    "stored" if created else "already stored", tracker.sender_id)
        if created and service.code == dlg.OUTAGE_SERVICE and escalation.is_urgent(" ".join(map(str, fields.values()))):
            self.escalate_danger(dispatcher, tracker, code, fields, settings)
        return [SlotSet("request_code", code)] + reset_events()

    @staticmethod
    def escalate_danger(dispatcher: CollectingDispatcher, tracker: Tracker, code: str, fields: dict,
                        settings: Any) -> None:
        """An outage report with danger words (đứt dây, tóe lửa, cháy, giật): a person takes it at once."""
        hotline = dlg.hotline_text(fields.get("customer_code"), settings.default_hotline)
        try:
            outcome = escalation.escalate(
                settings, tracker.sender_id, f"Sự cố nguy hiểm ({code}): {fields.get('description', '')}", hotline,
                channel=tracker.get_latest_input_channel(), urgent=True, context=escalation_context(tracker),
                customer_code=fields.get("customer_code"), phone=fields.get("phone"))
        except Exception:  # noqa: BLE001 - the request is stored; the hotline is the way to a person
            logger.exception("urgent escalation of %s failed", code)
            dispatcher.utter_message(text=f"Nếu có nguy hiểm đến người hoặc tài sản, anh/chị gọi ngay {hotline} ạ.")
            return
        dispatcher.utter_message(text=outcome.text, sender="system")


class ActionCancelForm(Action):
    """Intent `cancel`: stop the running form, clear what it collected (personal data stays)."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        active = (tracker.active_loop or {}).get("name")
        service = dlg.service_of(tracker.get_slot("service"))
        if active == dlg.FORM_NAME:
            what = f"đăng ký {dlg.lower_first(service.vi)}" if service else "yêu cầu đang làm"
            dispatcher.utter_message(text=f"Dạ, em đã hủy {what}; thông tin chưa được gửi đi. "
                                          "Anh/chị cần gì thêm cứ nhắn em nhé.")
            return [ActiveLoop(None)] + reset_events()
        dispatcher.utter_message(text="Dạ, hiện không có yêu cầu nào đang làm dở ạ. Anh/chị cần em hỗ trợ gì ạ?")
        return []
