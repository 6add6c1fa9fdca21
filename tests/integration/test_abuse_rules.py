"""The adaptive rules of SPEC §11.3, each played from the attacker's side on the real Redis
and PostgreSQL: codes sent and never verified until the rule fires."""

from __future__ import annotations

import pytest

from tests.factories import code_of
from tests.scrape import scrape
from verification.abuse.rules import RULES
from verification.models import AbuseDecision, SMSVerification

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"
FLOORS = {rule.id: rule.floor_setting for rule in RULES}
RU_PREFIXES = ("+7999", "+7916", "+7903", "+7925", "+7926", "+7977", "+7985", "+7901")


@pytest.fixture
def protection(settings):
    """Abuse protection on, every floor out of reach: each test lowers the one it plays."""
    settings.ABUSE_PROTECTION = "deny"
    for setting in FLOORS.values():
        setattr(settings, setting, 1000)
    return settings


def send(api_client, phone, ip):
    return api_client.post(SEND, {"phone": phone}, format="json", REMOTE_ADDR=ip)


def confirm(api_client, response, ip):
    row = SMSVerification.objects.get(id=response.json()["verification_id"])
    answer = api_client.post(
        VERIFY, {"phone": row.phone, "code": code_of(row)}, format="json", REMOTE_ADDR=ip
    )
    assert answer.status_code == 200


def blocked(response):
    return response.status_code == 429 and response.json()["code"] == "blocked"


# Each rule: the traffic that trips it alone. n -> (phone, ip) of the n-th request.
SCENARIOS = {
    "unverified_by_ip_hour": lambda n: (f"{RU_PREFIXES[n % 8]}{n:07d}", "10.0.0.1"),
    "unverified_by_ip_day": lambda n: (f"{RU_PREFIXES[n % 8]}{n:07d}", "10.0.0.1"),
    "unverified_by_prefix_hour": lambda n: (f"+7999{n:07d}", f"10.0.{n}.1"),
    "unverified_by_country_hour": lambda n: (f"{RU_PREFIXES[n % 8]}{n:07d}", f"10.0.{n}.1"),
    "unverified_by_country_day": lambda n: (f"{RU_PREFIXES[n % 8]}{n:07d}", f"10.0.{n}.1"),
}


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_each_unverified_rule_blocks_past_its_floor(api_client, protection, rule):
    # given: the rule's floor at 3
    setattr(protection, FLOORS[rule], 3)
    traffic = SCENARIOS[rule]

    # when: unverified codes keep coming
    answers = [send(api_client, *traffic(n)) for n in range(5)]

    # then: three pass, then the rule blocks, with one message for every rule
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert answers[3].json() == {
        "error": "Запрос отклонён",
        "code": "blocked",
        "retry_after": 3600,
    }
    assert int(answers[3]["Retry-After"]) == 3600
    # and each refusal is a decision naming the rule; blocked requests cost nothing
    decisions = list(AbuseDecision.objects.order_by("created_at"))
    assert [(d.rules, d.decision) for d in decisions] == [(rule, "blocked")] * 2
    phone, ip = traffic(3)
    assert (decisions[0].phone, decisions[0].client_ip) == (phone, ip)
    assert (decisions[0].country, decisions[0].prefix) == ("RU", phone[:5])
    assert SMSVerification.objects.count() == 3


def test_countries_by_ip_day(api_client, protection):
    protection.VERIFICATION_ALLOWED_COUNTRIES = ["*"]
    protection.ABUSE_FLOOR_COUNTRIES_PER_IP = 2
    ru, kz, de, ru2 = "+79991234567", "+77012345678", "+4915123456789", "+79161234567"

    answers = [send(api_client, phone, "10.0.0.1") for phone in (ru, kz, de, ru2)]

    # a third country from the same client is blocked; the countries already seen are not
    assert [a.status_code for a in answers] == [202, 202, 429, 202]
    decision = AbuseDecision.objects.get()
    assert (decision.rules, decision.country, decision.prefix) == (
        "countries_by_ip_day",
        "DE",
        "+49151",
    )


def test_verified_codes_raise_the_threshold(api_client, protection):
    # given: a client whose floor is 2 and who verified 4 codes
    protection.ABUSE_FLOOR_IP_HOUR = 2
    for n in range(4):
        confirm(api_client, send(api_client, f"+7999000000{n}", "10.0.0.1"), "10.0.0.1")

    # when: it sends unverified codes
    answers = [send(api_client, f"+7916000000{n}", "10.0.0.1").status_code for n in range(6)]

    # then: the threshold is max(2, 1 × 4 verified) = 4 unverified codes
    assert answers == [202] * 4 + [429] * 2


def test_record_only_records_and_never_blocks(api_client, protection):
    protection.ABUSE_PROTECTION = "record_only"
    protection.ABUSE_FLOOR_IP_HOUR = 2

    answers = [send(api_client, f"+7999000000{n}", "10.0.0.1").status_code for n in range(4)]

    assert answers == [202] * 4
    assert (
        list(AbuseDecision.objects.values_list("rules", "decision"))
        == [("unverified_by_ip_hour", "recorded")] * 2
    )
    samples = scrape(api_client)
    recorded = {"rule": "unverified_by_ip_hour", "decision": "recorded"}
    assert samples.value("verification_abuse_decisions_total", **recorded) == 2


def test_off_counts_and_records_nothing(api_client, protection):
    protection.ABUSE_PROTECTION = "off"
    protection.ABUSE_FLOOR_IP_HOUR = 1

    answers = [send(api_client, f"+7999000000{n}", "10.0.0.1").status_code for n in range(4)]

    assert answers == [202] * 4
    assert not AbuseDecision.objects.exists()


@pytest.mark.parametrize(
    ("allow", "value"),
    [("ABUSE_ALLOW_IPS", ["10.0.0.0/24"]), ("ABUSE_ALLOW_PHONES", [r"\+7999000.*"])],
)
def test_allow_lists_bypass_the_rules_but_not_the_limits(api_client, protection, allow, value):
    # given: an allow-listed client or phone range, a rule floor of 1 and a per-IP limit of 4
    setattr(protection, allow, value)
    protection.ABUSE_FLOOR_IP_HOUR = 1
    protection.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 4

    answers = [send(api_client, f"+7999000000{n}", "10.0.0.1") for n in range(5)]

    # then: no rule fires, but the fixed per-IP limit still refuses the fifth
    assert [a.status_code for a in answers] == [202] * 4 + [429]
    assert answers[4].json()["code"] == "rate_limited"
    assert not AbuseDecision.objects.exists()


def test_a_clean_request_writes_only_its_row(api_client, protection, django_assert_num_queries):
    # one INSERT: no decision row, no other query, however many rules were evaluated
    with django_assert_num_queries(1):
        assert send(api_client, "+79991234567", "10.0.0.1").status_code == 202
    assert not AbuseDecision.objects.exists()


def test_the_admin_lists_decisions_with_filters(api_client, protection, admin_client):
    protection.ABUSE_FLOOR_IP_HOUR = 1
    send(api_client, "+79990000000", "10.0.0.1")
    send(api_client, "+79990000001", "10.0.0.1")

    listing = admin_client.get(
        "/admin/verification/abusedecision/"
        "?rule=unverified_by_ip_hour&decision__exact=blocked&country__exact=RU"
    )
    other_rule = admin_client.get("/admin/verification/abusedecision/?rule=countries_by_ip_day")

    assert listing.status_code == 200
    assert "+79990000001" in listing.content.decode()
    assert "+79990000001" not in other_rule.content.decode()


def test_every_send_path_check_is_one_redis_round_trip(protection, monkeypatch):
    # given: every rule and both spend caps in force, and the script already loaded
    from django_redis import get_redis_connection

    from verification import services

    protection.GREEN_SMS_BUDGET_PER_HOUR = "1000"
    protection.GREEN_SMS_BUDGET_PER_DAY = "10000"
    services.verification_create(phone="+79990000000", client_ip="10.0.0.1")
    client = get_redis_connection("default")
    commands: list[str] = []
    real = client.execute_command

    def counting(*args, **kwargs):
        commands.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counting)

    # when: another code is accepted for the same client
    services.verification_create(phone="+79990000001", client_ip="10.0.0.1")

    # then: limits, cooldown, rules, caps, counters and the verify cache took one command
    assert commands == ["EVALSHA"]


# --- while Redis is down: the rules the rows answer cheaply ----------------------------
@pytest.mark.usefixtures("redis_down", "broker_down")
@pytest.mark.parametrize(
    "rule", ["unverified_by_ip_hour", "unverified_by_ip_day", "unverified_by_prefix_hour"]
)
def test_rules_count_from_the_database_while_redis_is_down(api_client, protection, rule):
    setattr(protection, FLOORS[rule], 3)
    traffic = SCENARIOS[rule]

    answers = [send(api_client, *traffic(n)) for n in range(5)]

    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert blocked(answers[3])
    assert list(AbuseDecision.objects.values_list("rules", "decision")) == [(rule, "blocked")] * 2


@pytest.mark.usefixtures("redis_down", "broker_down")
def test_countries_and_verified_codes_count_from_the_database(api_client, protection):
    # given: a client who confirmed 4 codes (rows with is_used), floors of 2
    protection.VERIFICATION_ALLOWED_COUNTRIES = ["*"]
    protection.ABUSE_FLOOR_IP_HOUR = 2
    protection.ABUSE_FLOOR_COUNTRIES_PER_IP = 1
    for n in range(4):
        confirm(api_client, send(api_client, f"+7999000000{n}", "10.0.0.1"), "10.0.0.1")

    # when: it sends unverified codes, then one to a second country
    answers = [send(api_client, f"+7916000000{n}", "10.0.0.1").status_code for n in range(5)]

    # then: max(2, 1 × 4 verified) unverified codes pass; a new country is over
    # max(1, 0.2 × 4) = 1 country
    assert answers == [202] * 4 + [429]
    assert send(api_client, "+77012345678", "10.0.0.2").status_code == 202  # another client
    assert blocked(send(api_client, "+77012345679", "10.0.0.1"))
    assert AbuseDecision.objects.filter(rules__contains="countries_by_ip_day").exists()


@pytest.mark.usefixtures("redis_down", "broker_down")
def test_record_only_from_the_database(api_client, protection):
    protection.ABUSE_PROTECTION = "record_only"
    protection.ABUSE_FLOOR_IP_HOUR = 1

    answers = [send(api_client, f"+7999000000{n}", "10.0.0.1").status_code for n in range(3)]

    assert answers == [202] * 3
    assert AbuseDecision.objects.filter(decision="recorded").count() == 2
