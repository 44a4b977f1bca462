"""The one version guard of our Rasa patches (bot/rasa_speedups.py, bot/rasa_resilience.py).

The patches replace private methods of one Rasa release: on any other version they are not applied and a
warning says so on stderr as well as in the log; each can also be switched off by an environment variable.
"""
from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"
OFF = {"0", "false", "no", "off"}


def may_patch(name: str, switch: str, consequence: str) -> bool:
    """True when patch set `name` should be applied: `switch` is not off and Rasa is the pinned version.
    `consequence` says what the customer or operator loses when it is not (printed for a version mismatch)."""
    import rasa

    if os.environ.get(switch, "true").strip().lower() in OFF:
        logger.info("%s: off (%s=false)", name, switch)
        return False
    if rasa.__version__ != RASA_VERSION:
        message = f"{name}: Rasa {rasa.__version__} is not {RASA_VERSION}; {consequence}"
        logger.warning(message)
        print(f"WARNING: {message}", file=sys.stderr, flush=True)
        return False
    return True
