"""The machinery every channel shares (web chat, Zalo OA, Messenger); each channel module keeps only what is
specific to its platform. Pieces: `message` (the one message shape, history, text helpers), `inbox`
(exactly-once input), `turns` (acknowledge first, in order per conversation), `gate` (may the bot answer
now?), `output` (send, render, retry, record), `channel` (accept a customer message), `evidence` (outage
images and locations), `store` (the channel tables)."""
from connectors.base.channel import AppBlueprint, ChannelInput, Incoming, TOO_LONG_TEXT
from connectors.base.gate import GATE, Gate
from connectors.base.output import ChannelOutput, Delivery, conversation_id_for, retrying, user_id_in

__all__ = ["AppBlueprint", "ChannelInput", "ChannelOutput", "Delivery", "GATE", "Gate", "Incoming",
           "TOO_LONG_TEXT", "conversation_id_for", "retrying", "user_id_in"]
