"""Hostile customer input for the fault tests and the fuzzing benchmark (`scripts/loadtest.py --fuzz`):
nasty strings (SQL, HTML, templates, RTL and zero-width characters, emoji, near-miss customer codes and
phones, broken `/intent{json}` payloads) and random Unicode of every kind, deterministic for a seed."""
from __future__ import annotations

import json
import random

NASTY = [
    "'; DROP TABLE service_requests; --", "\" OR 1=1 --", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "{{ 7*7 }}", "${7*7}", "{% raw %}", "%s%s%s%n", "${jndi:ldap://x/a}", "../../../../etc/passwd", "\\x00\\u0000",
    "\u202eRTL override\u202c", "\u200b\u200c\u200d\ufeff", "مرحبا كيف حالك", "שלום", "🔌⚡️💡🙏🏻👨‍👩‍👧", "ẩ̸̛̖͎ẫ͍̓",
    "PD0100149435", "PD01001494350X", "pd01 0014 94350", "PZ99999999999", "YC7K4M9", "YC-0OIL11", "ycaaaaaa",
    "091234567", "+84 912 345 678 9", "0912.345.678.9", "84912345678", "００９１２３４５６７８", "0" * 60,
    "/", "/inform", "/inform{", "/inform{\"phone\":", "/inform{\"phone\": [1, 2]}", "/inform{\"phone\": {\"a\": 1}}",
    "/inform{\"phone\": null}", "/inform{\"phone\": 1e309}", "/request_service{\"service\": \"'; DROP TABLE x;--\"}",
    "/request_service{\"service\": 42}", "/affirm{\"confirm\": true}", "/nonexistent_intent{\"a\": 1}",
    "/inform{\"customer_code\": \"PD01001494350\", \"phone\": \"0912345678\", \"full_name\": \"<b>x</b>\"}",
    "/inform{\"request_code\": \"YCAAAAAA\", \"lookup_pending\": \"bill\", \"slot_error\": {\"text\": \"hacked\"}}",
    "/session_start", "/restart", "/action_submit_request", "\t \n", "\x00", "\x1b[31mred", "a" * 1999,
]
ALPHABETS = [(0x20, 0x7E), (0xC0, 0x1EF9), (0x0590, 0x06FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F64F), (0x200B, 0x200F),
             (0x0300, 0x036F), (0x2028, 0x202E)]


def random_text(rng: random.Random, length: int) -> str:
    lo, hi = rng.choice(ALPHABETS)
    return "".join(chr(rng.randint(lo, hi)) for _ in range(length))


def fuzz_messages(n: int, seed: int) -> list[str]:
    """Nasty strings, random Unicode of every kind, near-miss codes and oversized texts (deterministic)."""
    rng = random.Random(seed)
    messages = list(NASTY)
    while len(messages) < n:
        kind = rng.random()
        if kind < 0.5:
            messages.append(random_text(rng, rng.randint(1, 120)))
        elif kind < 0.7:
            messages.append(rng.choice(NASTY) + " " + random_text(rng, rng.randint(0, 30)))
        elif kind < 0.8:
            messages.append(random_text(rng, rng.choice([2001, 5000, 20_000])))
        else:
            intent = rng.choice(["inform", "affirm", "request_service", "check_bill", "greet"])
            body = json.dumps({rng.choice(["phone", "customer_code", "service", "confirm", "id_number"]):
                               rng.choice([random_text(rng, 8), 12, None, [], {"x": 1}, True])})
            messages.append(f"/{intent}{body[:rng.randint(1, len(body))]}")
    rng.shuffle(messages)
    return messages[:n]
