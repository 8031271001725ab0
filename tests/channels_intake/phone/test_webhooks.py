"""The phone webhooks: signed JSON events and Twilio's status callback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from channels_intake.phone.models import Call, CallEvent, CallProvider, CallState
from tests.factories import make_team
from tickets.models import Channel, Customer, Ticket, TriggerEvent
from tickets.rules.engine import active_triggers

pytestmark = pytest.mark.django_db
URL = "/api/v1/intake/phone/events/"
TWILIO_URL = "/api/v1/intake/phone/twilio/status/"
SECRET = "phone-secret-0123456789"
TWILIO_TOKEN = "twilio-auth-token-abcdef"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.HELPDESK_PHONE_WEBHOOK_SECRET = SECRET
    settings.HELPDESK_PHONE_TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.HELPDESK_PHONE_DEFAULT_REGION = "CN"


def sign(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender computes, written out from the documented scheme (not our helper)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Helpdesk-Timestamp": str(timestamp), "X-Helpdesk-Signature": f"sha256={digest}"}


def send(client, event: dict, *, headers: dict[str, str] | None = None):
    body = json.dumps(event).encode()
    return client.post(URL, data=body, content_type="application/json", headers=sign(body) if headers is None else headers)


def event(kind: str, *, call_id: str = "pbx-1", **fields) -> dict:
    return {"call_id": call_id, "event": kind, "from": "13812345678", "to": "4008001234", **fields}


def test_signed_ringing_event_records_the_call_and_its_caller(client, phone_agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, event("ringing", agent_extension="101", caller_name="Wang Fang"))

    assert response.status_code == 200
    call = Call.objects.get()
    assert response.json() == {"call": call.pk, "state": "ringing", "duplicate": False, "ticket": None}
    assert (call.provider, call.call_id, call.from_number, call.to_number) == (
        CallProvider.GENERIC, "pbx-1", "+8613812345678", "+864008001234"
    )
    assert call.agent == phone_agent
    assert call.customer.name == "Wang Fang"
    assert not Ticket.objects.exists()


def test_forged_signature_is_refused_and_changes_nothing(client, phone_agent):
    body = json.dumps(event("ringing")).encode()

    wrong_secret = client.post(URL, data=body, content_type="application/json", headers=sign(body, secret="guess"))
    tampered = client.post(
        URL, data=body.replace(b"pbx-1", b"pbx-2"), content_type="application/json", headers=sign(body)
    )
    unsigned = client.post(URL, data=body, content_type="application/json")

    assert [wrong_secret.status_code, tampered.status_code, unsigned.status_code] == [401, 401, 401]
    assert not Call.objects.exists() and not Customer.objects.exists()


def test_replay_with_an_old_timestamp_is_refused(client, phone_agent):
    body = json.dumps(event("ended", duration=30)).encode()

    stale = client.post(URL, data=body, content_type="application/json",
                        headers=sign(body, timestamp=int(time.time()) - 301))
    fresh_enough = client.post(URL, data=body, content_type="application/json",
                               headers=sign(body, timestamp=int(time.time()) - 240))

    assert stale.status_code == 401
    assert fresh_enough.status_code == 200
    assert Call.objects.count() == 1


def test_webhook_without_a_configured_secret_refuses_everything(client, settings):
    settings.HELPDESK_PHONE_WEBHOOK_SECRET = ""

    response = send(client, event("ringing"))

    assert response.status_code == 401
    assert not Call.objects.exists()


def test_a_rotated_secret_still_verifies_during_the_rotation(client, settings, phone_team):
    settings.HELPDESK_PHONE_WEBHOOK_SECRET = f"new-secret, {SECRET}"

    assert send(client, event("ringing")).status_code == 200


def test_duplicate_event_is_acknowledged_and_adds_nothing(client, phone_team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = send(client, event("ended", duration=65))
        again = send(client, event("ended", duration=65))

    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["ticket"] == first.json()["ticket"] == Ticket.objects.get().number
    assert CallEvent.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 1


def _end_state():
    call = Call.objects.get()
    ticket = Ticket.objects.get()
    return {
        "state": call.state, "started_at": call.started_at, "answered_at": call.answered_at,
        "ended_at": call.ended_at, "duration": call.duration_seconds, "agent": call.agent_id,
        "ticket_channel": ticket.channel, "tags": ticket.tags, "assignee": ticket.assignee_id,
        "messages": [message.body_text for message in ticket.messages.all()],
        "customers": Customer.objects.count(),
    }


EVENTS = [
    event("ringing", occurred_at="2026-12-02T05:00:00Z", agent_extension="101"),
    event("answered", occurred_at="2026-12-02T05:00:10Z", agent_extension="101"),
    event("ended", occurred_at="2026-12-02T05:03:15Z", duration=185, agent_extension="101"),
]


def test_events_in_order_put_the_answered_call_on_a_new_phone_ticket(client, phone_agent):
    for payload in EVENTS:
        assert send(client, payload).status_code == 200

    state = _end_state()
    assert state["state"] == CallState.ENDED
    assert state["ticket_channel"] == Channel.PHONE
    assert state["assignee"] == phone_agent.pk
    assert state["duration"] == 185
    assert "Inbound call from +86 138 1234 5678" in state["messages"][0]
    assert "3 min 5 s" in state["messages"][0]


def test_events_out_of_order_give_the_same_end_state(client, phone_agent, django_db_blocker):
    for payload in EVENTS:
        send(client, payload)
    in_order = _end_state()
    Call.objects.all().delete()
    Ticket.objects.all().delete()
    Customer.objects.all().delete()

    for payload in reversed(EVENTS):
        assert send(client, payload).status_code == 200

    assert _end_state() == in_order
    assert Call.objects.get().started_at.isoformat() == "2026-12-02T05:00:00+00:00"


def test_missed_call_opens_a_callback_ticket_for_the_team(client, phone_team):
    billing = make_team(name="Billing", slug="billing")

    response = send(client, event("missed", team="billing"))

    ticket = Ticket.objects.get()
    assert response.json()["ticket"] == ticket.number
    assert ticket.team == billing
    assert ticket.tags == ["callback"]
    assert ticket.channel == Channel.PHONE
    assert ticket.subject == "Call back +86 138 1234 5678"
    assert phone_team != billing


def test_voicemail_puts_recording_and_transcript_on_the_callback_ticket(client, phone_team):
    send(client, event("missed"))
    send(client, event("voicemail", duration=21, recording_url="https://pbx.example.com/vm/1.wav",
                       transcript="Please call me back about order 42."))

    ticket = Ticket.objects.get()
    assert ticket.tags == ["callback"]
    text = ticket.messages.get().body_text
    assert "Voicemail from +86 138 1234 5678" in text
    assert "https://pbx.example.com/vm/1.wav" in text
    assert "Please call me back about order 42." in text
    assert Call.objects.get().state == CallState.VOICEMAIL


def test_voicemail_after_a_completed_call_turns_the_ticket_into_a_callback(client, phone_team):
    send(client, event("ended", duration=25))
    send(client, event("voicemail", recording_url="https://pbx.example.com/vm/2.wav"))

    ticket = Ticket.objects.get()
    assert ticket.tags == ["callback"]
    assert ticket.subject == "Call back +86 138 1234 5678"


def test_invalid_event_is_refused_with_the_field(client, phone_team):
    response = send(client, {"call_id": "x", "event": "exploded"})

    assert response.status_code == 400
    assert not Call.objects.exists()


def test_webhook_is_rate_limited_per_address(client, settings, phone_team):
    settings.HELPDESK_PHONE_WEBHOOK_RATE_LIMIT = "2/min"

    statuses = [send(client, event("ringing", call_id=f"c{n}")).status_code for n in range(3)]

    assert statuses == [200, 200, 429]


def test_events_endpoint_is_documented_in_the_openapi_schema(client):
    GENERATOR_STATS.reset()
    schema = yaml.safe_load(client.get("/api/schema/").content)

    operation = schema["paths"][URL]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert {"call_id", "event", "from", "to", "agent_extension", "duration", "recording_url", "transcript"} <= set(
        component["properties"]
    )
    assert {"X-Helpdesk-Timestamp", "X-Helpdesk-Signature"} <= {p["name"] for p in operation["parameters"]}
    assert set(operation["responses"]) >= {"200", "400", "401", "429"}
    assert "post" in schema["paths"][TWILIO_URL]
    SchemaGenerator().get_schema(request=None, public=True)
    warnings = [message for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
                if "phone" in message]
    assert warnings == []


# --- Twilio ---------------------------------------------------------------------------------------


def twilio_post(client, params: dict[str, str], *, query: str = "", token: str = TWILIO_TOKEN, url: str | None = None):
    """Sign as Twilio documents: the full URL, then each parameter name and value sorted by name,
    HMAC-SHA1 with the auth token, base64."""
    full_url = url or f"http://testserver{TWILIO_URL}{query}"
    data = full_url + "".join(f"{name}{params[name]}" for name in sorted(params))
    signature = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
    return client.post(TWILIO_URL + query, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def twilio_params(status: str, **extra: str) -> dict[str, str]:
    return {"CallSid": "CA0123456789abcdef", "AccountSid": "AC1", "From": "+8613812345678", "To": "+864008001234",
            "Direction": "inbound", "CallStatus": status, **extra}


def test_twilio_ringing_with_a_valid_signature_records_the_call(client, phone_agent):
    response = twilio_post(client, twilio_params("ringing"), query="?agent_extension=101")

    assert response.status_code == 200
    call = Call.objects.get()
    assert (call.provider, call.call_id, call.state, call.agent) == (
        CallProvider.TWILIO, "CA0123456789abcdef", CallState.RINGING, phone_agent
    )


def test_twilio_completed_call_lands_on_a_ticket_with_its_recording(client, phone_agent):
    twilio_post(client, twilio_params("in-progress"), query="?agent_extension=101")
    response = twilio_post(
        client, twilio_params("completed", CallDuration="42", RecordingUrl="https://api.twilio.com/rec/RE1"),
        query="?agent_extension=101",
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert response.json()["ticket"] == ticket.number
    assert ticket.assignee == phone_agent
    assert "https://api.twilio.com/rec/RE1" in ticket.messages.get().body_text
    assert Call.objects.get().duration_seconds == 42


def test_twilio_no_answer_becomes_a_callback_ticket(client, phone_team):
    twilio_post(client, twilio_params("no-answer"))

    assert Ticket.objects.get().tags == ["callback"]


def test_twilio_forged_signature_is_refused(client, phone_team):
    wrong_token = twilio_post(client, twilio_params("ringing"), token="not-the-token")
    # Signed for other parameters than those sent: e.g. a changed caller.
    params = twilio_params("ringing")
    body_changed = twilio_post(client, params, url=f"http://testserver{TWILIO_URL}?agent=someone")

    assert wrong_token.status_code == body_changed.status_code == 401
    assert not Call.objects.exists()


def test_twilio_statuses_before_ringing_are_acknowledged_and_ignored(client, phone_team):
    response = twilio_post(client, twilio_params("initiated"))

    assert response.status_code == 204
    assert not Call.objects.exists()


def test_twilio_without_an_auth_token_refuses_everything(client, settings, phone_team):
    settings.HELPDESK_PHONE_TWILIO_AUTH_TOKEN = ""

    assert twilio_post(client, twilio_params("ringing")).status_code == 401
    assert not Call.objects.exists()


def test_twilio_voicemail_recording_callback_attaches_the_recording_to_a_callback_ticket(client, phone_team):
    twilio_post(client, twilio_params("completed", CallDuration="30"))
    response = twilio_post(
        client, {"CallSid": "CA0123456789abcdef", "AccountSid": "AC1", "RecordingUrl": "https://api.twilio.com/rec/RE9",
                 "RecordingDuration": "18", "RecordingStatus": "completed", "TranscriptionText": "Call me back please"},
        query="?voicemail=1",
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.tags == ["callback"]
    text = ticket.messages.get().body_text
    assert "https://api.twilio.com/rec/RE9" in text and "Call me back please" in text
    assert Call.objects.get().state == CallState.VOICEMAIL


def test_a_ringing_event_costs_a_bounded_number_of_queries(client, phone_agent, django_assert_max_num_queries):
    send(client, event("ringing", call_id="warm-up", agent_extension="101"))

    with django_assert_max_num_queries(12):
        assert send(client, event("ringing", call_id="pbx-q", agent_extension="101")).status_code == 200


def test_an_ended_event_costs_a_bounded_number_of_queries(client, phone_agent, django_assert_max_num_queries):
    send(client, event("ringing", call_id="pbx-q", agent_extension="101"))
    # A process reads the trigger list once (tickets.rules.engine caches it until rules change);
    # the bound is for the steady state, so that one-time read is done first.
    active_triggers(TriggerEvent.CREATED)

    with django_assert_max_num_queries(34):
        assert send(client, event("ended", call_id="pbx-q", agent_extension="101", duration=60)).status_code == 200
