// Drives the unmodified official Node client (customerio-node 5.2.0) against a running Herald.
//
// Every TrackClient method Herald implements is called, and each call's effect is read back
// through the App API with the same package's APIClient. The Rust test
// crates/herald/tests/it/clients_node.rs starts the server and runs this script with:
//
//   HERALD_TEST_BASE_URL     e.g. http://127.0.0.1:PORT
//   HERALD_TEST_SITE_ID      Track API site id
//   HERALD_TEST_API_KEY      Track API key
//   HERALD_TEST_APP_API_KEY  App API key
//   HERALD_TEST_DELIVERY_ID     a webhook delivery Herald sent, for the metric calls
//   HERALD_TEST_DELIVERY_TOKEN  its delivery token (CIO-Delivery-Token)
//
// The script exits 0 when every step passed and 1 (after printing the failing step) otherwise.
// Only Node builtins and customerio-node are used.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import cio from "customerio-node";
import { rejection, required, runSteps, step } from "./harness.mjs";

const { TrackClient, APIClient, CustomerIORequestError, MissingParamError, IdentifierType } = cio;

const BASE = required("HERALD_TEST_BASE_URL").replace(/\/+$/, "");
const SITE_ID = required("HERALD_TEST_SITE_ID");
const API_KEY = required("HERALD_TEST_API_KEY");
const APP_API_KEY = required("HERALD_TEST_APP_API_KEY");
const DELIVERY_ID = required("HERALD_TEST_DELIVERY_ID");
const DELIVERY_TOKEN = required("HERALD_TEST_DELIVERY_TOKEN");

// Retries are off so that a server error fails at once instead of being replayed and hidden.
const NO_RETRY = { maxRetries: 0 };
const track = new TrackClient(SITE_ID, API_KEY, { url: `${BASE}/api/v1`, retry: NO_RETRY });
const api = new APIClient(APP_API_KEY, { url: `${BASE}/v1`, retry: NO_RETRY });

const now = () => Math.floor(Date.now() / 1000);

// A ULID (48-bit millisecond time, 80 random bits, Crockford base32) built from builtins, for
// the event `id` that Customer.io deduplicates on.
function ulid() {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let time = BigInt(Date.now());
  let timePart = "";
  for (let i = 0; i < 10; i += 1) {
    timePart = alphabet[Number(time % 32n)] + timePart;
    time /= 32n;
  }
  let random = BigInt(`0x${randomBytes(10).toString("hex")}`);
  let randomPart = "";
  for (let i = 0; i < 16; i += 1) {
    randomPart = alphabet[Number(random % 32n)] + randomPart;
    random /= 32n;
  }
  return timePart + randomPart;
}

// --- App API readers -------------------------------------------------------------------------

async function customer(id, idType = IdentifierType.Id) {
  const body = await api.getAttributes(id, idType);
  assert.ok(body.customer, `getAttributes(${id}) returned ${JSON.stringify(body)}`);
  return body.customer;
}

async function assertNoCustomer(id, idType = IdentifierType.Id) {
  await assert.rejects(api.getAttributes(id, idType), (error) => {
    assert.ok(error instanceof CustomerIORequestError, `expected a CustomerIORequestError, got ${error}`);
    assert.equal(error.statusCode, 404, `getAttributes(${id}) should be 404`);
    return true;
  });
}

// Every activity of one person matching the filters, newest first, following `next`.
async function customerActivities(id, options = {}) {
  const all = [];
  let start;
  for (;;) {
    const page = await api.getCustomerActivities(id, { limit: 100, ...options, start });
    assert.ok(Array.isArray(page.activities), JSON.stringify(page));
    all.push(...page.activities);
    if (!page.next) return all;
    start = page.next;
  }
}

// Every activity of the workspace matching the filters, newest first, following `next`.
async function workspaceActivities(options = {}) {
  const all = [];
  let start;
  for (;;) {
    const page = await api.listActivities({ limit: 100, ...options, start });
    assert.ok(Array.isArray(page.activities), JSON.stringify(page));
    all.push(...page.activities);
    if (!page.next) return all;
    start = page.next;
  }
}

function names(activities) {
  return activities.map((activity) => activity.name);
}

// --- Steps ------------------------------------------------------------------------------------

step("identify creates a person, sets attributes and null removes one", async () => {
  const createdAt = now() - 86400;
  const answer = await track.identify("node-1", {
    email: "Node.One@Example.com",
    plan: "pro",
    age: 30,
    score: 1.5,
    vip: true,
    tags: ["a", "b"],
    address: { city: "Lyon" },
    created_at: createdAt,
  });
  assert.deepEqual(answer, {});

  const found = await api.getCustomersByEmail("node.one@example.com");
  assert.equal(found.results.length, 1, JSON.stringify(found));
  assert.equal(found.results[0].id, "node-1");
  assert.equal(found.results[0].email.toLowerCase(), "node.one@example.com");
  assert.ok(found.results[0].cio_id, "a cio_id is generated");

  const person = await customer("node-1");
  assert.equal(person.attributes.plan, "pro");
  assert.equal(person.attributes.age, 30);
  assert.equal(person.attributes.score, 1.5);
  assert.equal(person.attributes.vip, true);
  assert.deepEqual(person.attributes.tags, ["a", "b"]);
  assert.deepEqual(person.attributes.address, { city: "Lyon" });
  assert.equal(person.attributes.created_at, createdAt);
  assert.equal(person.attributes.id, "node-1");
  assert.equal(person.attributes.cio_id, found.results[0].cio_id);

  // The same person is found by email (case-insensitively) and by cio_id.
  assert.equal((await customer("NODE.ONE@example.com", IdentifierType.Email)).id, "node-1");
  assert.equal((await customer(found.results[0].cio_id, IdentifierType.CioId)).id, "node-1");

  await track.identify("node-1", { plan: null, age: 31 });
  const updated = await customer("node-1");
  assert.equal(updated.attributes.age, 31);
  assert.ok(!("plan" in updated.attributes), `plan was removed: ${JSON.stringify(updated.attributes)}`);
  assert.equal(updated.attributes.vip, true, "attributes not named stay");

  const changes = await customerActivities("node-1", { type: "attribute_change", name: "plan" });
  assert.equal(changes.length, 2, JSON.stringify(changes));
  assert.deepEqual(changes[0].data.plan, { from: "pro", to: null });
  assert.deepEqual(changes[1].data.plan, { from: null, to: "pro" });
  const created = await customerActivities("node-1", { type: "profile_create" });
  assert.equal(created.length, 1);
});

step("identify percent-encodes ids, which the server decodes without splitting on /", async () => {
  await track.identify("node/2 x", { email: "two@example.com" });
  const person = await customer("node/2 x");
  assert.equal(person.id, "node/2 x");
  assert.equal(person.attributes.email, "two@example.com");
  const found = await api.getCustomersByEmail("two@example.com");
  assert.equal(found.results[0].id, "node/2 x");
});

step("identify by email path, change the id through a cio_ path, and _update never creates", async () => {
  await track.identify("Path.Person@example.com", { plan: "email-path" });
  const byEmail = await customer("path.person@example.com", IdentifierType.Email);
  assert.equal(byEmail.id, null, "a person created by email has no id yet");
  assert.equal(byEmail.attributes.plan, "email-path");

  await track.identify(`cio_${byEmail.identifiers.cio_id}`, { id: "node-path" });
  const byId = await customer("node-path");
  assert.equal(byId.identifiers.cio_id, byEmail.identifiers.cio_id, "the same person gained the id");
  assert.equal(byId.attributes.email.toLowerCase(), "path.person@example.com");

  // Changing an existing id without naming the person by cio_id is refused and logged.
  await track.identify("path.person@example.com", { id: "node-path-2" });
  await assertNoCustomer("node-path-2");
  assert.equal((await customer("node-path")).identifiers.cio_id, byEmail.identifiers.cio_id);
  const failed = await customerActivities("node-path", { type: "failed_attribute_change" });
  assert.equal(failed.length, 1, JSON.stringify(failed));

  assert.deepEqual(await track.identify("node-ghost", { _update: true, plan: "x" }), {});
  await assertNoCustomer("node-ghost");
  await track.identify("node-path", { _update: true, plan: "updated" });
  assert.equal((await customer("node-path")).attributes.plan, "updated");
});

step("track records events with data, a deduplicating ULID id and a timestamp", async () => {
  assert.deepEqual(await track.track("node-1", { name: "purchase", data: { price: 23.45, sku: "A1" } }), {});
  const purchases = await customerActivities("node-1", { type: "event", name: "purchase" });
  assert.equal(purchases.length, 1, JSON.stringify(purchases));
  assert.deepEqual(purchases[0].data, { price: 23.45, sku: "A1" });
  assert.equal(purchases[0].customer_id, "node-1");
  assert.equal(purchases[0].customer_identifiers.email.toLowerCase(), "node.one@example.com");

  const eventId = ulid();
  await track.track("node-1", { name: "dedupe_me", id: eventId, data: { n: 1 } });
  await track.track("node-1", { name: "dedupe_me", id: eventId, data: { n: 2 } });
  const deduped = await customerActivities("node-1", { name: "dedupe_me" });
  assert.equal(deduped.length, 1, `an event id sent twice is stored once: ${JSON.stringify(deduped)}`);
  assert.equal(deduped[0].event_id, eventId);
  assert.deepEqual(deduped[0].data, { n: 1 }, "the first copy is kept");

  const timestamp = now() - 3600;
  await track.track("node-1", { name: "backdated", timestamp, data: {} });
  const backdated = await customerActivities("node-1", { name: "backdated" });
  assert.equal(backdated.length, 1);
  assert.equal(backdated[0].timestamp, timestamp);
  assert.equal(backdated[0].trigger?.eligible, true, "an hour-old event may still trigger campaigns");

  await track.track("node-1", { name: "Home", type: "screen" });
  const screens = await customerActivities("node-1", { type: "screen" });
  assert.deepEqual(names(screens), ["Home"]);

  // Tracking an unknown id creates the person, as Customer.io does.
  await track.track("node-track-only", { name: "first_seen" });
  assert.equal((await customer("node-track-only")).id, "node-track-only");
});

step("invalid requests reject with CustomerIORequestError carrying the server's message", async () => {
  // The client refuses an empty or whitespace name itself, before any request is sent.
  assert.throws(() => track.track("node-1", { name: "  " }), MissingParamError);

  // U+0085 (NEXT LINE) is not whitespace to JavaScript's trim() but is to the server's trim, so
  // this name passes the client's check and reaches the server as a blank name.
  const blank = await rejection(track.track("node-1", { name: "\u0085" }), 400);
  assert.match(blank.message, /event name must not be blank/);
  assert.equal(JSON.parse(blank.body).meta.error, "event name must not be blank");

  const long = await rejection(track.track("node-1", { name: "x".repeat(101) }), 400);
  assert.match(long.message, /event name cannot be longer than 100 bytes/);

  const data = await rejection(track.track("node-1", { name: "bad_data", data: "" }), 400);
  assert.match(data.message, /event data must be a hash/);

  const badId = await rejection(track.identify("node-1", { id: true }), 400);
  assert.match(badId.message, /id attribute must be a string value/);

  // Device errors use the `meta.errors` list, which the client turns into "1 error: ...".
  const device = await rejection(track.addDevice("node-1", "tok-bad", "windows"), 400);
  assert.match(device.message, /^1 error:/);
  assert.match(device.message, /platform/);

  // Nothing from a rejected request was written.
  assert.equal((await customerActivities("node-1", { name: "bad_data" })).length, 0);
  assert.equal((await customer("node-1")).devices.length, 0);

  const wrongKey = new TrackClient(SITE_ID, "not-the-key", { url: `${BASE}/api/v1`, retry: NO_RETRY });
  await rejection(wrongKey.identify("node-1", { plan: "stolen" }), 401);
  const wrongAppKey = new APIClient("not-the-app-key", { url: `${BASE}/v1`, retry: NO_RETRY });
  await rejection(wrongAppKey.getAttributes("node-1"), 401);
  assert.ok(!("plan" in (await customer("node-1")).attributes));
});

step("trackPageView records a page event named by the path", async () => {
  assert.deepEqual(await track.trackPageView("node-1", "/pricing?plan=pro"), {});
  const pages = await customerActivities("node-1", { type: "page" });
  assert.deepEqual(names(pages), ["/pricing?plan=pro"]);
});

step("trackAnonymous stores anonymous and invite events; identify with anonymous_id attaches", async () => {
  const anonymousId = "anon-node-1";
  assert.deepEqual(await track.trackAnonymous(anonymousId, { name: "viewed_product", data: { sku: "A1" } }), {});
  await track.trackAnonymous(anonymousId, { name: "added_to_cart", data: { sku: "A1", qty: 2 } });

  // An invite event: no anonymous id, a recipient in data.
  await track.trackAnonymous("", { name: "invite_sent", data: { recipient: "friend@example.com" } });
  const invites = await workspaceActivities({ name: "invite_sent" });
  assert.equal(invites.length, 1, JSON.stringify(invites));
  assert.equal(invites[0].type, "event");
  assert.equal(invites[0].customer_id, null);
  assert.equal(invites[0].anonymous_id, undefined, "the client omits an empty anonymous id");
  assert.equal(invites[0].data.recipient, "friend@example.com");

  const before = await workspaceActivities({ name: "viewed_product" });
  assert.equal(before.length, 1);
  assert.equal(before[0].anonymous_id, anonymousId);
  assert.equal(before[0].customer_id, null, "not attached before the identify");

  await track.identify("node-anon", { email: "anon@example.com", anonymous_id: anonymousId });
  const merges = await customerActivities("node-anon", { type: "anon_merge" });
  assert.equal(merges.length, 1, JSON.stringify(merges));
  assert.equal(merges[0].data.anonymous_id, anonymousId);
  assert.equal(merges[0].data.events, 2);
  const events = await customerActivities("node-anon", { type: "event" });
  assert.deepEqual(names(events).sort(), ["added_to_cart", "viewed_product"]);
  for (const event of events) {
    assert.equal(event.customer_id, "node-anon");
    assert.equal(event.anonymous_id, anonymousId);
  }

  // Anonymous events within five minutes after the identify go to the person directly.
  await track.trackAnonymous(anonymousId, { name: "checkout_started" });
  const late = await customerActivities("node-anon", { name: "checkout_started" });
  assert.equal(late.length, 1, "an event just after the identify is attached too");

  // The invite stayed unattached.
  assert.equal((await workspaceActivities({ name: "invite_sent" }))[0].customer_id, null);
});

step("trackPush and reportMetric report on a sent delivery", async () => {
  // trackPush sends the push's CIO-Delivery-Token as device_id: the proof Herald checks.
  assert.deepEqual(
    await track.trackPush({ delivery_id: DELIVERY_ID, event: "opened", device_id: DELIVERY_TOKEN, timestamp: now() }),
    {},
  );
  // reportMetric carries the client's Track API credentials.
  assert.deepEqual(
    await track.reportMetric({
      delivery_id: DELIVERY_ID,
      metric: "clicked",
      timestamp: now(),
      recipient: "node.one@example.com",
      href: "https://example.com/offer",
    }),
    {},
  );
  await track.reportMetric({ delivery_id: DELIVERY_ID, metric: "delivered" });
  const { delivery } = await api.request.get(`${BASE}/v1/deliveries/${DELIVERY_ID}`);
  assert.equal(delivery.status, "clicked", JSON.stringify(delivery));
  const unknown = await rejection(track.reportMetric({ delivery_id: "dlv-node-unknown", metric: "opened" }), 404);
  assert.match(unknown.message, /no delivery "dlv-node-unknown" was sent from this workspace/);
  const invalid = await rejection(track.reportMetric({ delivery_id: DELIVERY_ID, metric: "teleported" }), 400);
  assert.match(invalid.message, /metric "teleported" is not one of/);
  assert.throws(() => track.reportMetric({ metric: "opened" }), MissingParamError);
});

step("addDevice and deleteDevice manage a person's devices", async () => {
  const lastUsed = now() - 60;
  assert.deepEqual(
    await track.addDevice("node-1", "apns-token-1", "ios", {
      last_used: lastUsed,
      app_version: "1.2.3",
      push_enabled: "true",
    }),
    {},
  );
  // FCM tokens contain ':' which the client percent-encodes in the delete path.
  const fcm = "fcm:APA91b-x_y";
  await track.addDevice("node-1", fcm, "android");

  let person = await customer("node-1");
  assert.deepEqual(
    person.devices.map((device) => device.token),
    ["apns-token-1", fcm].sort(),
  );
  const ios = person.devices.find((device) => device.token === "apns-token-1");
  assert.equal(ios.platform, "ios");
  assert.equal(ios.last_used, lastUsed);
  assert.deepEqual(ios.attributes, { app_version: "1.2.3", push_enabled: "true" });
  const android = person.devices.find((device) => device.token === fcm);
  assert.equal(android.platform, "android");
  assert.equal(android.last_used, null);

  const changes = await customerActivities("node-1", { type: "device_change" });
  assert.deepEqual(names(changes).sort(), ["apns-token-1", fcm].sort());

  assert.deepEqual(await track.deleteDevice("node-1", fcm), {});
  assert.deepEqual(await track.deleteDevice("node-1", "apns-token-1"), {});
  person = await customer("node-1");
  assert.deepEqual(person.devices, []);
  const deletes = await customerActivities("node-1", { type: "device_delete" });
  assert.deepEqual(names(deletes).sort(), ["apns-token-1", fcm].sort());

  // Deleting a device that is not there is accepted and changes nothing.
  await track.deleteDevice("node-1", "never-registered");
  assert.equal((await customerActivities("node-1", { type: "device_delete" })).length, 2);
});

step("destroy deletes a person; a later identify recreates them", async () => {
  await track.identify("node-del", { email: "del@example.com", plan: "old" });
  const before = await customer("node-del");
  assert.deepEqual(await track.destroy("node-del"), {});
  await assertNoCustomer("node-del");
  assert.deepEqual((await api.getCustomersByEmail("del@example.com")).results, []);
  await rejection(api.getCustomerActivities("node-del"), 404);
  const deletes = await workspaceActivities({ type: "profile_delete" });
  assert.ok(
    deletes.some((activity) => activity.data?.id === "node-del"),
    `a profile_delete names node-del: ${JSON.stringify(deletes)}`,
  );

  await track.identify("node-del", { plan: "new" });
  const after = await customer("node-del");
  assert.notEqual(after.identifiers.cio_id, before.identifiers.cio_id, "a new profile");
  assert.equal(after.attributes.plan, "new");
  assert.equal(after.attributes.email, undefined, "nothing of the deleted profile comes back");
});

step("suppress deletes and blocks a person; unsuppress frees the id", async () => {
  await track.identify("node-sup", { email: "sup@example.com", plan: "x" });
  const before = await customer("node-sup");
  assert.deepEqual(await track.suppress("node-sup"), {});
  await assertNoCustomer("node-sup");

  // Calls naming a suppressed identifier succeed but are ignored.
  assert.deepEqual(await track.identify("node-sup", { plan: "y" }), {});
  await track.track("node-sup", { name: "ignored_event" });
  await assertNoCustomer("node-sup");
  await track.identify("someone-else", { email: "sup@example.com" });
  await assertNoCustomer("someone-else");
  assert.deepEqual((await api.getCustomersByEmail("sup@example.com")).results, []);
  assert.equal((await workspaceActivities({ name: "ignored_event" })).length, 0);
  assert.equal((await workspaceActivities({ type: "suppress" })).length, 1);

  assert.deepEqual(await track.unsuppress("node-sup"), {});
  assert.equal((await workspaceActivities({ type: "unsuppress" })).length, 1);
  await track.identify("node-sup", { plan: "z" });
  const after = await customer("node-sup");
  assert.notEqual(after.identifiers.cio_id, before.identifiers.cio_id, "unsuppress does not restore the old profile");
  assert.equal(after.attributes.plan, "z");
});

step("mergeCustomers moves the secondary's events, devices and missing attributes", async () => {
  await track.identify("node-primary", { email: "primary@example.com", plan: "gold", empty: "" });
  await track.identify("node-secondary", {
    email: "secondary@example.com",
    plan: "silver",
    company: "Acme",
    empty: "filled",
  });
  await track.track("node-secondary", { name: "secondary_event", data: { k: 1 } });
  await track.addDevice("node-secondary", "tok-secondary", "android");

  assert.deepEqual(
    await track.mergeCustomers(IdentifierType.Id, "node-primary", IdentifierType.Email, "secondary@example.com"),
    {},
  );
  await assertNoCustomer("node-secondary");
  await assertNoCustomer("secondary@example.com", IdentifierType.Email);

  const primary = await customer("node-primary");
  assert.equal(primary.attributes.plan, "gold", "the primary keeps its own values");
  assert.equal(primary.attributes.company, "Acme", "attributes the primary lacks are copied");
  assert.equal(primary.attributes.empty, "filled", "empty attributes of the primary are filled");
  assert.deepEqual(
    primary.devices.map((device) => device.token),
    ["tok-secondary"],
  );
  const events = await customerActivities("node-primary", { name: "secondary_event" });
  assert.equal(events.length, 1);
  assert.equal(events[0].trigger?.eligible, false, "merged events cannot trigger campaigns");
  const merges = await customerActivities("node-primary", { type: "profile_merge" });
  assert.equal(merges.length, 1);
  assert.equal(merges[0].data.secondary.id, "node-secondary");

  assert.throws(
    () => track.mergeCustomers("phone", "1", IdentifierType.Id, "2"),
    /must be one of/,
    "the client checks identifier types itself",
  );
});

step("batch applies mixed v2 operations; invalid items come back in a 207", async () => {
  const answer = await track.batch([
    {
      type: "person",
      identifiers: { id: "node-b1" },
      action: "identify",
      attributes: { email: "b1@example.com", plan: "batch" },
    },
    {
      type: "person",
      identifiers: { id: "node-b1" },
      action: "event",
      name: "batch_event",
      attributes: { n: 1 },
    },
    { type: "person", identifiers: { email: "b1@example.com" }, action: "page", name: "/batch" },
    { type: "person", identifiers: { id: "node-b1" }, action: "screen", name: "BatchScreen" },
    {
      type: "person",
      identifiers: { id: "node-b1" },
      action: "add_device",
      device: { token: "tok-b1", platform: "android", attributes: { app_version: "9" } },
    },
    {
      type: "person",
      identifiers: { id: "node-b1" },
      action: "add_relationships",
      cio_relationships: [{ identifiers: { object_type_id: "1", object_id: "acme" } }],
    },
    { type: "person", identifiers: { id: "node-b2" }, action: "identify", attributes: { plan: "tmp" } },
    { type: "person", identifiers: { id: "node-b2" }, action: "delete" },
    {
      type: "delivery",
      action: "event",
      identifiers: { id: "dlv-node-2" },
      name: "opened",
      attributes: { device_token: "tok-b1" },
    },
  ]);
  assert.deepEqual(answer, {});

  const b1 = await customer("node-b1");
  assert.equal(b1.attributes.plan, "batch");
  assert.equal(b1.attributes.email, "b1@example.com");
  assert.deepEqual(
    b1.devices.map((device) => [device.token, device.platform, device.attributes]),
    [["tok-b1", "android", { app_version: "9" }]],
  );
  const events = await customerActivities("node-b1");
  const kinds = events.filter((activity) => ["event", "page", "screen"].includes(activity.type));
  assert.deepEqual(
    kinds.map((activity) => [activity.type, activity.name]).reverse(),
    [
      ["event", "batch_event"],
      ["page", "/batch"],
      ["screen", "BatchScreen"],
    ],
  );
  assert.deepEqual(kinds.find((activity) => activity.name === "batch_event").data, { n: 1 });
  await assertNoCustomer("node-b2");

  // A batch with an invalid item is answered 207, which the client resolves with the errors.
  const partial = await track.batch([
    { type: "person", identifiers: { id: "node-b3" }, action: "identify", attributes: { plan: "ok" } },
    { type: "person", identifiers: { id: "node-b3", email: "b3@example.com" }, action: "identify" },
  ]);
  assert.equal(partial.errors?.length, 1, JSON.stringify(partial));
  assert.match(partial.errors[0].message, /You cannot pass multiple identifiers/);
  assert.equal((await customer("node-b3")).attributes.plan, "ok", "the valid item was applied");

  assert.throws(() => track.batch([]), MissingParamError);
});

step("entity applies one v2 operation and rejects an invalid one with 400", async () => {
  assert.deepEqual(
    await track.entity({
      type: "person",
      identifiers: { id: "node-e1" },
      action: "identify",
      attributes: { plan: "entity", email: "e1@example.com" },
    }),
    {},
  );
  await track.entity({
    type: "person",
    identifiers: { email: "e1@example.com" },
    action: "event",
    name: "entity_event",
    attributes: { via: "entity" },
    timestamp: now() - 10,
  });
  const person = await customer("node-e1");
  assert.equal(person.attributes.plan, "entity");
  const events = await customerActivities("node-e1", { name: "entity_event" });
  assert.equal(events.length, 1);
  assert.deepEqual(events[0].data, { via: "entity" });

  await track.entity({ type: "person", identifiers: { id: "node-e1" }, action: "suppress" });
  await assertNoCustomer("node-e1");
  await track.entity({ type: "person", identifiers: { id: "node-e1" }, action: "unsuppress" });
  await track.entity({ type: "person", identifiers: { id: "node-e1" }, action: "identify", attributes: { plan: "back" } });
  assert.equal((await customer("node-e1")).attributes.plan, "back");

  // v2 errors have the shape {"errors":[{reason, field, message}]}; Herald repeats the first
  // message in meta.error so that the client's exception says what went wrong.
  const invalid = await rejection(
    track.entity({ type: "person", identifiers: { id: "x", email: "x@example.com" }, action: "identify" }),
    400,
  );
  const body = JSON.parse(invalid.body);
  assert.equal(body.errors.length, 1, invalid.body);
  assert.match(body.errors[0].message, /You cannot pass multiple identifiers/);
  assert.match(invalid.message, /You cannot pass multiple identifiers/);
  await assertNoCustomer("x");
});

step("getAccountRegion answers with this server's own URL", async () => {
  const region = await track.getAccountRegion();
  assert.equal(region.url, BASE);
  assert.equal(region.region, "us");
  assert.equal(typeof region.environment_id, "number");
});

step("App API activity listings filter and paginate", async () => {
  // Customer filter on the workspace listing, by id and by email.
  const byId = await workspaceActivities({ customerId: "node-1", idType: IdentifierType.Id, type: "event" });
  const byEmail = await workspaceActivities({
    customerId: "node.one@example.com",
    idType: IdentifierType.Email,
    type: "event",
  });
  assert.deepEqual(byEmail, byId);
  assert.deepEqual(names(byId).sort(), ["backdated", "dedupe_me", "purchase"]);
  for (const activity of byId) {
    assert.equal(activity.customer_id, "node-1");
    assert.ok(typeof activity.id === "string" && activity.id.length > 0);
  }

  // Pages of two, newest first, with no overlap and nothing lost.
  const everything = await customerActivities("node-1");
  const paged = [];
  let start;
  for (;;) {
    const page = await api.getCustomerActivities("node-1", { limit: 2, start });
    assert.ok(page.activities.length <= 2);
    paged.push(...page.activities);
    if (!page.next) break;
    start = page.next;
  }
  assert.deepEqual(
    paged.map((activity) => activity.id),
    everything.map((activity) => activity.id),
  );
  assert.ok(everything.length > 4, `node-1 has a long history: ${everything.length}`);

  // Unknown people are 404 on the per-person listing and an empty list on the workspace one.
  await rejection(api.getCustomerActivities("nobody-here"), 404);
  assert.deepEqual(await workspaceActivities({ customerId: "nobody-here" }), []);
  assert.deepEqual((await api.getCustomersByEmail("nobody@example.com")).results, []);

  const invalidType = await rejection(api.listActivities({ type: "teleport" }), 400);
  assert.match(invalidType.body, /not an activity type/);
});

step("addCustomersToSegment and removeCustomersFromSegment change a manual segment", async () => {
  // The App API client creates the manual segment; the Track API client then fills it.
  const created = await api.createSegment({ name: "node manual", description: "from the Node client" });
  const segmentId = created.segment.id;
  assert.equal((await api.getSegment(segmentId)).segment.type, "manual");
  await track.identify("node-seg-1", { email: "seg1@example.com" });
  await track.identify("node-seg-2", {});
  await track.addCustomersToSegment(segmentId, ["node-seg-1", "node-seg-2"]);
  const membership = async () => {
    const response = await fetch(`${BASE}/v1/segments/${segmentId}/membership`, {
      headers: { authorization: `Bearer ${APP_API_KEY}` },
    });
    assert.equal(response.status, 200);
    return (await response.json()).ids.sort();
  };
  assert.deepEqual(await membership(), ["node-seg-1", "node-seg-2"]);
  const ofPerson = await api.getCustomerSegments("node-seg-1");
  assert.deepEqual(ofPerson.segments.map((segment) => segment.id), [segmentId]);
  await track.removeCustomersFromSegment(segmentId, ["seg1@example.com"], IdentifierType.Email);
  assert.deepEqual(await membership(), ["node-seg-2"]);
  const missing = await rejection(track.addCustomersToSegment(987654, ["node-seg-1"]), 404);
  assert.match(missing.body, /Segment not found/);
});

step("submitForm identifies the person and records the submission", async () => {
  await track.submitForm("newsletter", { email: "Form.Person@example.com", plan: "pro", age: "41" });
  const person = await customer("form.person@example.com", IdentifierType.Email);
  assert.equal(person.attributes.plan, "pro");
  assert.equal(person.attributes.age, "41");
  const submissions = await workspaceActivities({ type: "form_submit" });
  assert.equal(submissions.length, 1);
  assert.equal(submissions[0].name, "newsletter");
  const invalid = await rejection(track.submitForm("newsletter", { plan: "no identifier" }), 400);
  assert.match(invalid.message, /needs an id or an email/);
});

step("unsubscribe of an unknown delivery is a 400", async () => {
  // Herald sends no messages yet, so no delivery id exists; the endpoint still speaks the wire
  // contract (JSON body, no authentication required, 400 for an unknown delivery).
  const unknown = await rejection(track.unsubscribe("no-such-delivery"), 400);
  assert.match(unknown.body, /no delivery has the id/);
});

await runSteps();
