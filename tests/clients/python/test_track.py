"""Drives the unmodified official Customer.io Python client against a running Herald server.

The client (`customerio` 3.2.0) always speaks https, so the server runs with a self-signed
certificate and `REQUESTS_CA_BUNDLE` names it (customerio-compat.md section 6.1, option A).
Every Track method is called, and its effect is checked through Herald's App API with `requests`.

crates/herald/tests/it/clients_python.rs runs this script with these environment variables:

- HERALD_HOST, HERALD_PORT: where the server listens over TLS;
- HERALD_SITE_ID, HERALD_API_KEY: the Track API credentials;
- HERALD_APP_API_KEY: the App API key;
- HERALD_CA_CERT and REQUESTS_CA_BUNDLE: the server's certificate.

It exits 0 when every check passed, and 1 with the failing step and check otherwise.
"""

import os
import secrets
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from urllib.parse import quote

import requests
from customerio import APIClient, CustomerIO, SendEmailRequest, SendPushRequest

HOST = os.environ["HERALD_HOST"]
PORT = int(os.environ["HERALD_PORT"])
SITE_ID = os.environ["HERALD_SITE_ID"]
API_KEY = os.environ["HERALD_API_KEY"]
APP_API_KEY = os.environ["HERALD_APP_API_KEY"]
CA_CERT = os.environ["HERALD_CA_CERT"]
APP_BASE = f"https://{HOST}:{PORT}"

DAY = 24 * 3600

# Crockford's base32 alphabet, which ULIDs are written in.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid():
    """Returns a fresh ULID: 48 bits of milliseconds, then 80 random bits, in 26 characters."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> (5 * index)) & 31] for index in reversed(range(26)))


# The App API, used only to look at what the Track calls did.
app = requests.Session()
app.headers["Authorization"] = f"Bearer {APP_API_KEY}"


def app_get(path, params=None, expect=200):
    """GETs an App API path and returns the decoded JSON body, checking the status."""
    response = app.get(APP_BASE + path, params=params, verify=CA_CERT, timeout=10)
    assert response.status_code == expect, (
        f"GET {response.url}: expected {expect}, got {response.status_code}: {response.text}"
    )
    return response.json()


def app_post(path, body, expect=200):
    """POSTs JSON to an App API path and returns the decoded JSON body, checking the status."""
    response = app.post(APP_BASE + path, json=body, verify=CA_CERT, timeout=10)
    assert response.status_code == expect, (
        f"POST {response.url}: expected {expect}, got {response.status_code}: {response.text}"
    )
    return response.json()


def customer_path(customer_id):
    """The App API path segment of a customer, percent-encoded as the client does it."""
    return quote(str(customer_id), safe="")


def customer(customer_id, id_type="id"):
    """Returns a person's App API record, or None when there is no such person."""
    response = app.get(
        f"{APP_BASE}/v1/customers/{customer_path(customer_id)}/attributes",
        params={"id_type": id_type},
        verify=CA_CERT,
        timeout=10,
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, (
        f"GET {response.url}: expected 200 or 404, got {response.status_code}: {response.text}"
    )
    return response.json()["customer"]


def existing(customer_id, id_type="id"):
    """Returns a person's App API record, failing when they do not exist."""
    found = customer(customer_id, id_type)
    assert found is not None, f"customer {customer_id!r} ({id_type}) should exist but the App API says 404"
    return found


def by_email(email):
    """Returns the `results` of `GET /v1/customers?email=`."""
    return app_get("/v1/customers", {"email": email})["results"]


def customer_activities(customer_id, kind=None, name=None, limit=100):
    """Returns one person's activities of the last 30 days, newest first."""
    params = {"id_type": "id", "limit": limit}
    if kind:
        params["type"] = kind
    if name:
        params["name"] = name
    body = app_get(f"/v1/customers/{customer_path(customer_id)}/activities", params)
    return body["activities"]


def workspace_activities(kind=None, name=None):
    """Returns every activity of the last 30 days in the workspace, newest first, following `next`."""
    found = []
    start = ""
    while True:
        params = {"limit": 100, "start": start}
        if kind:
            params["type"] = kind
        if name:
            params["name"] = name
        body = app_get("/v1/activities", params)
        found.extend(body["activities"])
        start = body["next"]
        if not start:
            return found


def data_index():
    """Returns the data index of events keyed by (type, name)."""
    return {(entry["type"], entry["name"]): entry for entry in app_get("/v1/data_index/events")["events"]}


def only(items, what):
    """Returns the one item of a list, failing with a description when there are none or many."""
    assert len(items) == 1, f"expected exactly one {what}, got {len(items)}: {items}"
    return items[0]


def near_now(timestamp):
    return abs(timestamp - int(time.time())) < 300


# Each step calls some Track methods through the official client and checks what they did.


def check_client_setup(cio):
    assert version("customerio") == "3.2.0", f"expected customerio 3.2.0, found {version('customerio')}"
    assert cio.base_url == f"https://{HOST}:{PORT}/api/v1", f"unexpected base_url {cio.base_url}"


def check_identify(cio):
    # An id with a space and a slash: the client percent-encodes it into one path segment.
    person = "py user/1"
    cio.identify(
        person,
        email="Py.User@Example.com",
        plan="pro",
        age=30,
        tags=["a", "b"],
        address={"city": "Lisbon"},
        created_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    found = only(by_email("py.user@example.com"), "customer with the email py.user@example.com")
    assert found["id"] == person, found
    assert found["email"].lower() == "py.user@example.com", found
    assert found["cio_id"], found
    record = existing(person)
    attributes = record["attributes"]
    assert attributes["plan"] == "pro", attributes
    assert attributes["age"] == 30, attributes
    assert attributes["tags"] == ["a", "b"], attributes
    assert attributes["address"] == {"city": "Lisbon"}, attributes
    # The client turns datetimes into unix seconds.
    assert attributes["created_at"] == 1704067200, attributes
    assert attributes["id"] == person and attributes["email"].lower() == "py.user@example.com", attributes
    assert record["identifiers"]["cio_id"] == found["cio_id"], record
    only(customer_activities(person, kind="profile_create"), "profile_create activity")

    # A None value is sent as null, which removes the attribute.
    cio.identify(person, plan=None, age=31)
    attributes = existing(person)["attributes"]
    assert "plan" not in attributes, f"plan should have been removed: {attributes}"
    assert attributes["age"] == 31, attributes
    changes = customer_activities(person, kind="attribute_change", name="plan")
    assert [change["data"]["plan"] for change in changes] == [
        {"from": "pro", "to": None},
        {"from": None, "to": "pro"},
    ], changes

    # The email works as the path identifier too, case-insensitively.
    cio.identify("PY.USER@example.com", locale="pt-PT")
    assert existing(person)["attributes"]["locale"] == "pt-PT"
    assert only(by_email("py.user@example.com"), "customer")["id"] == person


def check_track(cio):
    person = "py user/1"
    cio.track(person, "purchased", data={"price": 23.45, "sku": "A-1", "items": [1, 2]})
    event = only(customer_activities(person, kind="event", name="purchased"), "purchased event")
    assert event["data"] == {"price": 23.45, "sku": "A-1", "items": [1, 2]}, event
    assert event["customer_id"] == person, event
    assert near_now(event["timestamp"]), event

    # The same ULID twice: Customer.io keeps only the first.
    ulid = new_ulid()
    cio.track(person, "signed_up", data={"via": "python"}, id=ulid)
    cio.track(person, "signed_up", data={"via": "python"}, id=ulid)
    event = only(customer_activities(person, kind="event", name="signed_up"), "signed_up event (deduplicated)")
    assert event["event_id"] == ulid, event
    assert data_index()[("event", "signed_up")]["count"] == 1, data_index()
    # A different id is a different event.
    cio.track(person, "signed_up", data={"via": "python"}, id=new_ulid())
    events = customer_activities(person, kind="event", name="signed_up")
    assert len(events) == 2, events

    # An explicit timestamp is the event's time.
    earlier = int(time.time()) - 3600
    cio.track(person, "logged_in", data={"method": "sso"}, timestamp=earlier)
    event = only(customer_activities(person, kind="event", name="logged_in"), "logged_in event")
    assert event["timestamp"] == earlier, event
    assert event["trigger"]["eligible"] is True, event
    # The client also takes a datetime.
    when = datetime.now(timezone.utc) - timedelta(hours=2)
    cio.track(person, "logged_out", timestamp=when)
    event = only(customer_activities(person, kind="event", name="logged_out"), "logged_out event")
    assert event["timestamp"] == int(when.timestamp()), event

    # Tracking an unknown id creates the person, as Customer.io does.
    cio.track("tracked-only", "first_touch")
    existing("tracked-only")
    only(customer_activities("tracked-only", kind="event", name="first_touch"), "first_touch event")


def check_track_anonymous(cio):
    cio.track_anonymous("anon-123", "viewed_pricing", data={"plan": "pro"})
    event = only(workspace_activities(kind="event", name="viewed_pricing"), "viewed_pricing event")
    assert event["anonymous_id"] == "anon-123", event
    assert event["customer_id"] is None and event["customer_identifiers"] is None, event
    assert event["data"] == {"plan": "pro"}, event

    # Identifying someone with that anonymous id gives them the anonymous history.
    cio.identify("anon person", email="anon.person@example.com", anonymous_id="anon-123")
    event = only(customer_activities("anon person", kind="event", name="viewed_pricing"), "attached event")
    assert event["anonymous_id"] == "anon-123", event
    merge = only(customer_activities("anon person", kind="anon_merge"), "anon_merge activity")
    assert merge["data"]["anonymous_id"] == "anon-123" and merge["data"]["events"] == 1, merge

    # An invite event: no anonymous id (the client drops None and ""), a recipient in data.
    cio.track_anonymous(None, "invite", data={"recipient": "friend@example.com", "from_address": "team@example.com"})
    cio.track_anonymous("", "invite", data={"recipient": "other@example.com"})
    invites = workspace_activities(kind="event", name="invite")
    assert len(invites) == 2, invites
    assert {invite["data"]["recipient"] for invite in invites} == {"friend@example.com", "other@example.com"}, invites
    for invite in invites:
        assert "anonymous_id" not in invite and invite["customer_id"] is None, invite
    assert data_index()[("event", "invite")]["count"] == 2, data_index()


def check_pageview(cio):
    person = "py user/1"
    url = "https://example.com/pricing?plan=pro&ref=python"
    cio.pageview(person, url, referrer="https://search.example/", title="Pricing")
    page = only(customer_activities(person, kind="page"), "page activity")
    assert page["name"] == url, page
    assert page["data"] == {"referrer": "https://search.example/", "title": "Pricing"}, page
    # A page is not an event of type event.
    assert customer_activities(person, kind="event", name=url) == [], "the page view was logged as an event"
    entry = data_index()[("page", url)]
    assert entry["count"] == 1 and sorted(entry["attribute_keys"]) == ["referrer", "title"], entry


def check_backfill(cio):
    person = "py user/1"
    old = int(time.time()) - 40 * DAY
    cio.backfill(person, "old_order", old, total=99, currency="EUR")
    older = datetime.now(timezone.utc) - timedelta(days=45)
    cio.backfill(person, "old_visit", older, path="/")
    # Activities older than 30 days are not shown...
    assert workspace_activities(name="old_order") == [], "a 40-day-old backfill shows in /v1/activities"
    assert customer_activities(person, name="old_order") == [], "a 40-day-old backfill shows in the person's activities"
    assert workspace_activities(name="old_visit") == [], "a 45-day-old backfill shows in /v1/activities"
    # ...but the data index shows the events were stored, at their own time.
    index = data_index()
    entry = index[("event", "old_order")]
    assert entry["count"] == 1 and entry["first_seen"] == old and entry["last_seen"] == old, entry
    assert sorted(entry["attribute_keys"]) == ["currency", "total"], entry
    entry = index[("event", "old_visit")]
    assert entry["first_seen"] == int(older.timestamp()) and entry["attribute_keys"] == ["path"], entry
    # A backfill within the last 30 days shows like any event.
    recent = int(time.time()) - 10 * DAY
    cio.backfill(person, "recent_order", recent, total=5)
    event = only(customer_activities(person, kind="event", name="recent_order"), "recent_order event")
    assert event["timestamp"] == recent and event["data"] == {"total": 5}, event
    # More than 72 hours old, so it may not start campaigns.
    assert event["trigger"]["eligible"] is False, event


def check_delete(cio):
    cio.identify("to-delete", email="delete.me@example.com", plan="trial")
    existing("to-delete")
    cio.delete("to-delete")
    assert customer("to-delete") is None, "a deleted customer still exists"
    assert by_email("delete.me@example.com") == [], "a deleted customer is still found by email"
    deletions = workspace_activities(kind="profile_delete")
    assert len(deletions) == 1 and deletions[0]["data"]["id"] == "to-delete", deletions
    # Deleting someone unknown is not an error.
    cio.delete("never-existed")
    # A later identify recreates the person, with nothing of the old profile.
    cio.identify("to-delete", plan="again")
    attributes = existing("to-delete")["attributes"]
    assert attributes["plan"] == "again" and "email" not in attributes, attributes


def check_devices(cio):
    person = "py user/1"
    used = int(time.time()) - 60
    cio.add_device(
        person,
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "ios",
        last_used=used,
        app_version="1.2.3",
        device_model="iPhone15,2",
        push_enabled="true",
    )
    # An FCM-style token with ':' goes through the client's percent-encoding on delete.
    android = "cX1:APA91bH-abc_def"
    cio.add_device(person, android, "android", device_os="14")
    devices = {device["token"]: device for device in existing(person)["devices"]}
    assert set(devices) == {"a1b2c3d4e5f60718293a4b5c6d7e8f90", android}, devices
    ios = devices["a1b2c3d4e5f60718293a4b5c6d7e8f90"]
    assert ios["platform"] == "ios" and ios["last_used"] == used, ios
    # The client puts extra keyword arguments beside id and platform; they are the device's attributes.
    assert ios["attributes"] == {"app_version": "1.2.3", "device_model": "iPhone15,2", "push_enabled": "true"}, ios
    assert devices[android]["platform"] == "android" and devices[android]["attributes"] == {"device_os": "14"}
    assert len(customer_activities(person, kind="device_change")) == 2

    # Adding the same token again updates it rather than adding another.
    cio.add_device(person, android, "android", device_os="15")
    devices = {device["token"]: device for device in existing(person)["devices"]}
    assert len(devices) == 2 and devices[android]["attributes"] == {"device_os": "15"}, devices

    cio.delete_device(person, android)
    tokens = [device["token"] for device in existing(person)["devices"]]
    assert tokens == ["a1b2c3d4e5f60718293a4b5c6d7e8f90"], tokens
    deletion = only(customer_activities(person, kind="device_delete"), "device_delete activity")
    assert deletion["data"]["token"] == android, deletion


def check_suppress(cio):
    cio.identify("suppressed-1", email="suppressed@example.com", plan="x")
    first_cio_id = existing("suppressed-1")["identifiers"]["cio_id"]
    cio.suppress("suppressed-1")
    assert customer("suppressed-1") is None, "a suppressed customer still exists"
    # Later calls naming a suppressed identifier are ignored, yet answered with 200.
    cio.identify("suppressed-1", plan="y")
    assert customer("suppressed-1") is None, "an identify of a suppressed id created a profile"
    cio.track("suppressed-1", "ignored_event")
    cio.add_device("suppressed-1", "suppressed-token", "ios")
    assert customer("suppressed-1") is None, "a track or add_device of a suppressed id created a profile"
    assert workspace_activities(name="ignored_event") == [], "an event of a suppressed id was stored"
    # Both of the person's identifiers are suppressed.
    cio.identify("someone-else", email="suppressed@example.com")
    assert customer("someone-else") is None, "an identify with a suppressed email created a profile"
    assert by_email("suppressed@example.com") == []

    # Unsuppress frees the id; the next identify creates a fresh profile.
    cio.unsuppress("suppressed-1")
    assert customer("suppressed-1") is None, "unsuppress alone should not recreate the profile"
    cio.identify("suppressed-1", plan="z")
    record = existing("suppressed-1")
    assert record["attributes"]["plan"] == "z" and "email" not in record["attributes"], record
    assert record["identifiers"]["cio_id"] != first_cio_id, record


def check_merge(cio):
    cio.identify("primary-1", email="primary@example.com", plan="gold", city="")
    cio.identify("secondary-1", email="secondary@example.com", plan="silver", city="Berlin", company="Acme")
    cio.track("secondary-1", "secondary_event", data={"n": 1})
    cio.add_device("secondary-1", "secondary-token", "android")
    primary_cio_id = existing("primary-1")["identifiers"]["cio_id"]

    # Named by id on one side and by email on the other.
    cio.merge_customers("id", "primary-1", "email", "secondary@example.com")
    assert customer("secondary-1") is None, "the secondary still exists after the merge"
    assert by_email("secondary@example.com") == [], "the secondary's email still finds someone"
    record = existing("primary-1")
    assert record["identifiers"]["cio_id"] == primary_cio_id, record
    attributes = record["attributes"]
    # The primary keeps its own values and takes the secondary's where its own are unset or empty.
    assert attributes["plan"] == "gold", attributes
    assert attributes["city"] == "Berlin", attributes
    assert attributes["company"] == "Acme", attributes
    assert attributes["email"] == "primary@example.com", attributes
    assert [device["token"] for device in record["devices"]] == ["secondary-token"], record
    event = only(customer_activities("primary-1", kind="event", name="secondary_event"), "moved event")
    assert event["data"] == {"n": 1} and event["customer_id"] == "primary-1", event
    # Merged events cannot trigger campaigns.
    assert event["trigger"]["eligible"] is False, event
    merge = only(customer_activities("primary-1", kind="profile_merge"), "profile_merge activity")
    assert merge["data"]["secondary"]["id"] == "secondary-1", merge

    # Both sides named by cio id.
    cio.identify("merge-a", size="m")
    cio.identify("merge-b", color="red", size="l")
    cio_a = existing("merge-a")["identifiers"]["cio_id"]
    cio_b = existing("merge-b")["identifiers"]["cio_id"]
    cio.merge_customers("cio_id", cio_a, "cio_id", cio_b)
    assert customer("merge-b") is None and customer(cio_b, "cio_id") is None, "merge-b still exists"
    attributes = existing(cio_a, "cio_id")["attributes"]
    assert attributes["color"] == "red" and attributes["size"] == "m", attributes


def check_batch(cio):
    response = cio.batch(
        [
            {
                "type": "person",
                "identifiers": {"id": "batch-1"},
                "action": "identify",
                "attributes": {"email": "batch@example.com", "plan": "basic"},
            },
            {
                "type": "person",
                "identifiers": {"id": "batch-1"},
                "action": "event",
                "name": "batch_event",
                "id": new_ulid(),
                "attributes": {"source": "batch"},
            },
            {
                "type": "person",
                "identifiers": {"email": "batch@example.com"},
                "action": "page",
                "name": "/batch/page",
                "attributes": {"title": "Batch"},
            },
        ]
    )
    assert response.status_code == 200, f"batch answered {response.status_code}: {response.text}"
    record = existing("batch-1")
    assert record["attributes"]["plan"] == "basic" and record["attributes"]["email"] == "batch@example.com", record
    event = only(customer_activities("batch-1", kind="event", name="batch_event"), "batch_event event")
    assert event["data"] == {"source": "batch"}, event
    page = only(customer_activities("batch-1", kind="page", name="/batch/page"), "batch page")
    assert page["data"] == {"title": "Batch"}, page


def started_transactional(name, step):
    """Creates and starts a transactional message with one step; returns its id."""
    body = {"campaign": {"name": name, "trigger": {"transactional": {}}, "steps": [step]}}
    created = app_post("/v1/campaigns", body)["campaign"]["id"]
    app_post(f"/v1/campaigns/{created}/start", {})
    return created


def sent_delivery(delivery_id):
    """Waits until a delivery is sent (it is recorded once the dispatcher takes the send up),
    and returns it."""
    deadline = time.monotonic() + 20
    while True:
        response = app.get(f"{APP_BASE}/v1/deliveries/{delivery_id}", verify=CA_CERT, timeout=10)
        delivery = response.json().get("delivery") if response.status_code == 200 else None
        if delivery is not None and delivery["status"] == "sent":
            return delivery
        assert time.monotonic() < deadline, f"delivery {delivery_id} never sent: {response.text}"
        time.sleep(0.05)


def check_transactional(_cio):
    # The server has an SMTP server and a push gateway (the Rust test gives it both).
    api = APIClient(APP_API_KEY, url=APP_BASE)
    email = started_transactional(
        "Python receipt",
        {"email": {"to": "{{ customer.email }}", "from": "shop@example.com",
                   "subject": "Order {{ trigger.order_id }}", "text": "Thanks"}},
    )
    answer = api.send_email(SendEmailRequest(
        transactional_message_id=email,
        identifiers={"email": "py.buyer@example.com"},
        to="py.buyer@example.com",
        message_data={"order_id": "P-1"},
    ))
    assert isinstance(answer["queued_at"], int), answer
    delivery = sent_delivery(answer["delivery_id"])
    assert delivery["content"]["subject"] == "Order P-1", delivery
    push = started_transactional("Python login", {"push": {"title": "Login", "body": "Was it you?"}})
    answer = api.send_push(SendPushRequest(
        transactional_message_id=push,
        identifiers={"id": "py-pusher"},
        message="From {{ trigger.city }}",
        message_data={"city": "Lille"},
        device={"token": "py-token", "platform": "android"},
    ))
    delivery = sent_delivery(answer["delivery_id"])
    assert delivery["content"]["body"] == "From Lille", delivery


def check_nothing_failed():
    # None of the calls above conflicted, so none may have been logged as a failed change.
    failed = workspace_activities(kind="failed_attribute_change")
    assert failed == [], f"unexpected failed attribute changes: {failed}"


STEPS = [
    ("client setup", check_client_setup),
    ("identify", check_identify),
    ("track", check_track),
    ("track_anonymous", check_track_anonymous),
    ("pageview", check_pageview),
    ("backfill", check_backfill),
    ("delete", check_delete),
    ("add_device and delete_device", check_devices),
    ("suppress and unsuppress", check_suppress),
    ("merge_customers", check_merge),
    ("batch", check_batch),
    ("APIClient send_email and send_push", check_transactional),
    ("no failed changes", lambda _cio: check_nothing_failed()),
]


def main():
    cio = CustomerIO(SITE_ID, API_KEY, host=HOST, port=PORT)
    for name, step in STEPS:
        try:
            step(cio)
        except Exception:
            print(f"FAILED: {name}", file=sys.stderr)
            traceback.print_exc()
            return 1
        print(f"ok: {name}")
    cio.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
