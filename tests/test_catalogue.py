from decimal import Decimal

import pytest
import yaml

from bot.catalogue import CATALOGUE_PATH, load_catalogue, parse_catalogue

SPEC_SERVICES = {
    "new_connection_lv", "new_connection_mv", "capacity_change", "meter_relocation", "holder_change",
    "purpose_change", "quota_change", "info_change", "payment_method_change", "contract_renewal",
    "contract_termination", "meter_inspection", "reconnection", "outage_report", "complaint",
}


def test_every_spec_service_with_its_slots():
    cat = load_catalogue()
    assert SPEC_SERVICES <= set(cat.services)
    assert cat.services["meter_relocation"].slots == ("customer_code", "full_name", "phone", "new_location")
    assert cat.services["new_connection_lv"].slots == (
        "full_name", "phone", "id_number", "address", "usage_purpose", "phase")
    assert cat.services["outage_report"].priority == "urgent"
    assert cat.services["holder_change"].is_free and not cat.services["meter_relocation"].is_free
    assert cat.services["new_connection_mv"].due_working_days == 30
    assert not cat.services["holder_change"].prefill_from_customer  # the new holder's data is asked
    assert cat.services["meter_relocation"].prefill_from_customer


def test_slot_values_and_words():
    cat = load_catalogue()
    assert [v.code for v in cat.slots["payment_method"].values] == [
        "bank_transfer", "auto_debit", "e_wallet", "counter"]
    assert "momo" in cat.slots["payment_method"].value("e_wallet").words
    assert cat.slots["phase"].value("3").vi == "3 pha"


@pytest.mark.parametrize("code, corp, hotline", [
    ("PD01000123456", "EVNHANOI", "1900 1288"),
    ("PE0400123456", "EVNHCMC", "1900 545454"),
    ("PB06110009864", "EVNSPC", "1900 1006"),
    ("PB04001234567", "EVNHCMC", "1900 545454"),   # ex-Bình Dương: longest prefix wins
    ("PB18001234567", "EVNCPC", "1900 1909"),
    ("pa01hh0001234", "EVNNPC", "1900 6769"),
    ("PQ0100123456", "EVNCPC", "1900 1909"),
])
def test_routing_longest_prefix(code, corp, hotline):
    route = load_catalogue().route(code)
    assert (route.code, route.hotline) == (corp, hotline)


def test_unknown_prefix_has_no_route():
    assert load_catalogue().route("PZ01001234567") is None


def test_tariff_breakdown_300_kwh():
    tariff = load_catalogue().tariff
    assert tariff.breakdown(300) == [
        (1, 50, 1984, 99200), (2, 50, 2050, 102500), (3, 100, 2380, 238000), (4, 100, 2998, 299800)]
    assert tariff.cost(300, Decimal("0.08")) == (739500, 59160, 798660)
    assert tariff.breakdown(450)[-1] == (6, 50, 3460, 173000)
    assert tariff.breakdown(0) == []


def test_unknown_slot_in_a_service_is_rejected():
    raw = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
    raw["services"]["meter_relocation"]["slots"].append("shoe_size")
    with pytest.raises(ValueError, match="shoe_size"):
        parse_catalogue(raw)
