"""The questions of `service_form`: one `action_ask_<slot>` per slot, worded from the catalogue.

Each shows the validation problem of the previous answer first (slot `slot_error`, set by the form
engine in actions/forms.py), then the question with its buttons.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import dialogue as dlg
from actions.tracker_helpers import held_by_person
from bot.catalogue import Catalogue, Service, load_catalogue

logger = logging.getLogger(__name__)


class _AskBase(Action, ABC):
    """Asks one slot; shows the validation problem of the previous answer first (slot `slot_error`)."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if held_by_person(tracker):
            return []  # a person answers now; the hand-back line reminds the customer of this question
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
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        return dlg.question(self.slot, service, catalogue), dlg.choice_buttons(self.slot, catalogue)


def _make_ask_action(slot: str) -> type:
    camel = "".join(part.capitalize() for part in slot.split("_"))
    return type(f"ActionAsk{camel}", (_AskDataSlot,),
                {"slot": slot, "name": lambda self, _s=slot: f"action_ask_{_s}", "__module__": __name__})


# One `action_ask_<slot>` per catalogue slot (confirm has its own summary action below).
ASK_ACTIONS = {slot: _make_ask_action(slot) for slot in load_catalogue().slots if slot != "confirm"}


class ActionAskService(_AskBase):
    def name(self) -> str:
        return "action_ask_service"

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        example = next((s.phrases[0] for s in catalogue.services.values() if s.phrases), "")
        text = "Anh/chị muốn đăng ký dịch vụ nào ạ? Anh/chị chọn bên dưới hoặc gõ tên dịch vụ"
        return text + (f" (ví dụ: {example})." if example else "."), dlg.service_buttons("request_service", catalogue)


class ActionAskSwitchService(_AskBase):
    def name(self) -> str:
        return "action_ask_switch_service"

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        target = dlg.service_of(tracker.get_slot("pending_service"), catalogue)
        if service is None or target is None:
            return "Anh/chị muốn chuyển sang dịch vụ khác không ạ?", dlg.YES_NO_BUTTONS
        if service.code == "complaint" and target.code == dlg.OUTAGE_SERVICE:  # set by the form (forms.py)
            text = ("Dạ, em rất tiếc vì sự bất tiện này. Nếu hiện giờ chỗ anh/chị vẫn đang mất điện, em lập ngay "
                    f"phiếu {dlg.lower_first(target.short)} để điện lực cử người xử lý gấp; hoặc em ghi nhận "
                    "nội dung này thành khiếu nại. Anh/chị chọn giúp em ạ.")
            return text, [{"title": "Báo mất điện ngay", "payload": "/affirm"},
                          {"title": "Vẫn gửi khiếu nại", "payload": "/deny"}]
        text = (f"Anh/chị đang đăng ký {dlg.lower_first(service.vi)}. Anh/chị muốn chuyển sang "
                f"{dlg.lower_first(target.vi)} không ạ? Họ tên, số điện thoại đã nhập em vẫn giữ lại.")
        buttons = [{"title": f"Chuyển sang {dlg.lower_first(target.short)}", "payload": "/affirm"},
                   {"title": f"Tiếp tục {dlg.lower_first(service.short)}", "payload": "/deny"}]
        return text, buttons


class ActionAskReportAnyway(_AskBase):
    def name(self) -> str:
        return "action_ask_report_anyway"

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        notice = tracker.get_slot("outage_notice") or {}
        text = (notice.get("text", "") + "\n" if isinstance(notice, dict) else "") + \
            "Anh/chị vẫn muốn báo mất điện chứ ạ?"
        return text, [{"title": "Vẫn báo mất điện", "payload": "/affirm"},
                      {"title": "Không cần", "payload": "/deny"}]


class ActionAskEditField(_AskBase):
    def name(self) -> str:
        return "action_ask_edit_field"

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        if service is None:
            return "Anh/chị muốn sửa thông tin nào ạ?", []
        buttons = dlg.field_buttons(service, tracker.slots, catalogue)
        if not any(tracker.get_slot(s) is None for s in service.slots):
            buttons.append({"title": "Thông tin đã đúng", "payload": "/affirm"})
        return "Anh/chị muốn sửa thông tin nào ạ? Anh/chị chọn bên dưới hoặc gõ tên mục cần sửa.", buttons


class ActionAskConfirm(_AskBase):
    def name(self) -> str:
        return "action_ask_confirm"

    def prompt(self, tracker: Tracker, service: Optional[Service],
               catalogue: Catalogue) -> tuple[str, list[dict[str, str]]]:
        if service is None:
            return "Anh/chị xác nhận thông tin trên đã đúng chưa ạ?", dlg.YES_NO_BUTTONS
        return dlg.summary(service, tracker.slots, catalogue), dlg.YES_NO_BUTTONS
