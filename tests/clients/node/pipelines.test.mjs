// Drives the unmodified official Data Pipelines clients against a running Herald:
// customerio-node's PipelinesClient (every call, group included, batch, strict mode) and
// @customerio/cdp-analytics-node's batching Analytics class (every call type, flush by size and
// by closeAndFlush). Each call's effect is read back through the App API with customerio-node's
// APIClient. The Rust test crates/herald/tests/it/clients_node.rs runs it with:
//
//   HERALD_TEST_BASE_URL     e.g. http://127.0.0.1:PORT
//   HERALD_TEST_WRITE_KEY    the workspace's Data Pipelines write key
//   HERALD_TEST_APP_API_KEY  App API key
//
// The script exits 0 when every step passed and 1 (after printing the failing step) otherwise.

import assert from "node:assert/strict";
import cio from "customerio-node";
import { Analytics } from "@customerio/cdp-analytics-node";
import { rejection, required, runSteps, step } from "./harness.mjs";

const { PipelinesClient, APIClient, CustomerIORequestError } = cio;

const BASE = required("HERALD_TEST_BASE_URL").replace(/\/+$/, "");
const WRITE_KEY = required("HERALD_TEST_WRITE_KEY");
const APP_API_KEY = required("HERALD_TEST_APP_API_KEY");

// Retries are off so that a server error fails at once instead of being replayed and hidden.
const NO_RETRY = { maxRetries: 0 };
const pipelines = new PipelinesClient(WRITE_KEY, { url: `${BASE}/v1`, retry: NO_RETRY });
const strict = new PipelinesClient(WRITE_KEY, { url: `${BASE}/v1`, retry: NO_RETRY, strictMode: true });
const api = new APIClient(APP_API_KEY, { url: `${BASE}/v1`, retry: NO_RETRY });

async function customer(id) {
  const body = await api.getAttributes(id);
  assert.ok(body.customer, `getAttributes(${id}) returned ${JSON.stringify(body)}`);
  return body.customer;
}

async function gone(id) {
  await assert.rejects(api.getAttributes(id), (error) => {
    assert.ok(error instanceof CustomerIORequestError, `expected a CustomerIORequestError, got ${error}`);
    assert.equal(error.statusCode, 404, `getAttributes(${id}) should be 404`);
    return true;
  });
}

// The names of one person's activities of a type, oldest first.
async function activityNames(id, type) {
  const all = [];
  let start;
  for (;;) {
    const page = await api.getCustomerActivities(id, { limit: 100, type, start });
    all.push(...page.activities);
    if (!page.next) break;
    start = page.next;
  }
  return all.map((activity) => activity.name).reverse();
}

step("PipelinesClient identify, track, page, screen and alias are stored", async () => {
  assert.deepEqual(await pipelines.track({ anonymousId: "pl-anon", event: "viewed_home" }), {});
  await pipelines.identify({
    userId: "pl-1",
    anonymousId: "pl-anon",
    traits: { email: "pl.one@example.com", plan: "pro", createdAt: "2026-01-02T03:04:05.000Z" },
  });
  const person = await customer("pl-1");
  assert.equal(person.attributes.plan, "pro");
  assert.equal(person.attributes.email, "pl.one@example.com");
  assert.equal(person.attributes.created_at, 1767323045);
  await pipelines.track({ userId: "pl-1", event: "purchased", properties: { price: 12 } });
  await pipelines.page({ userId: "pl-1", name: "Pricing", properties: { url: "https://shop.test/pricing" } });
  await pipelines.screen({ userId: "pl-1", name: "Checkout" });
  assert.deepEqual(await activityNames("pl-1", "event"), ["viewed_home", "purchased"]);
  assert.deepEqual(await activityNames("pl-1", "page"), ["https://shop.test/pricing"]);
  assert.deepEqual(await activityNames("pl-1", "screen"), ["Checkout"]);

  await pipelines.identify({ userId: "pl-old", traits: { legacy: true } });
  await pipelines.alias({ userId: "pl-1", previousId: "pl-old" });
  await gone("pl-old");
  assert.equal((await customer("pl-1")).attributes.legacy, true);
});

step("a messageId is stored once however often it is sent", async () => {
  const call = { userId: "pl-1", event: "renewed", messageId: "pl-renewal-1" };
  await pipelines.track(call);
  await pipelines.track(call);
  await pipelines.batch([{ type: "track", ...call }]);
  const renewals = (await activityNames("pl-1", "event")).filter((name) => name === "renewed");
  assert.equal(renewals.length, 1);
});

step("PipelinesClient batch applies mixed calls and semantic events", async () => {
  await pipelines.batch([
    { type: "identify", userId: "pl-2", traits: { name: "Two" } },
    {
      type: "track",
      userId: "pl-2",
      event: "Device Created or Updated",
      context: { device: { token: "pl-token", type: "android" } },
    },
    { type: "identify", userId: "pl-3", traits: {} },
    { type: "track", userId: "pl-3", event: "User Deleted" },
  ]);
  const two = await customer("pl-2");
  assert.equal(two.devices.length, 1, JSON.stringify(two));
  assert.equal(two.devices[0].token, "pl-token");
  assert.equal(two.devices[0].platform, "android");
  await gone("pl-3");
});

step("strict mode turns a drop into a CustomerIORequestError; lenient mode stores nothing of it", async () => {
  // Lenient (the default): 200, and the answer says what was dropped.
  const lenient = await pipelines.identify({ anonymousId: "only-anon", traits: { a: 1 } });
  assert.equal(lenient.dropped?.[0]?.field, "userId", JSON.stringify(lenient));
  const error = await rejection(strict.identify({ anonymousId: "only-anon", traits: { a: 1 } }), 400);
  assert.match(error.message, /userId or traits\.email/);
  // A visitor's group call is kept until an identify names the visitor.
  assert.deepEqual(await strict.group({ anonymousId: "pl-visitor", groupId: "pl-team", traits: { relationshipAttributes: { role: "trial" } } }), {});
  assert.deepEqual(await strict.identify({ userId: "pl-v", anonymousId: "pl-visitor" }), {});
  const visitor = await api.getCustomerRelationships("pl-v");
  assert.deepEqual(visitor.cio_relationships.map((item) => [item.identifiers.object_id, item.attributes]), [["pl-team", { role: "trial" }]]);
  await rejection(
    strict.batch([
      { type: "track", userId: "pl-strict", event: "ok" },
      { type: "track", userId: "pl-strict", event: "bad|name" },
    ]),
    400,
  );
  await gone("pl-strict");
});

step("group makes an object and relates the user, read back with the APIClient's object calls", async () => {
  await strict.group({
    userId: "pl-2",
    groupId: "pl-acme",
    traits: { name: "Acme", plan: "enterprise", objectTypeId: "1", relationshipAttributes: { role: "admin" } },
  });
  const object = await api.getObjectAttributes(1, "pl-acme");
  assert.deepEqual(object.object.attributes, { name: "Acme", plan: "enterprise" });
  const people = await api.getObjectRelationships(1, "pl-acme");
  assert.deepEqual(people.cio_relationships.map((item) => item.identifiers.id), ["pl-2"]);
  const objects = await api.getCustomerRelationships("pl-2");
  assert.deepEqual(
    objects.cio_relationships.map((item) => [item.identifiers.object_id, item.attributes]),
    [["pl-acme", { role: "admin" }]],
  );
  const found = await api.findObjects(1, {
    object_attribute: { field: "plan", operator: "eq", value: "enterprise", type_id: 1 },
  });
  assert.deepEqual(found.ids, ["pl-acme"]);
  const types = await api.listObjectTypes();
  assert.deepEqual(types.types.map((type) => type.id), ["1"]);
  await strict.track({ userId: "pl-2", event: "Relationship Deleted", properties: { groupId: "pl-acme" } });
  assert.deepEqual((await api.getCustomerRelationships("pl-2")).cio_relationships, []);
});

step("cdp-analytics-node sends every call type in batches, flushed by size and by closeAndFlush", async () => {
  const requests = [];
  const analytics = new Analytics({ writeKey: WRITE_KEY, host: BASE, maxEventsInBatch: 3, flushInterval: 60000, maxRetries: 0 });
  analytics.on("http_request", (request) => requests.push(request));
  const failures = [];
  const done = (error) => {
    if (error) failures.push(error);
  };
  // Batches of three are sent as they fill, and may reach the server in any order: the calls
  // that depend on each other share a batch, whose calls are applied in order.
  analytics.track({ anonymousId: "an-anon", event: "opened_app" }, done);
  analytics.identify({ userId: "an-1", anonymousId: "an-anon", traits: { email: "an@example.com", tier: "gold" } }, done);
  analytics.track({ userId: "an-1", event: "purchased", properties: { total: 30 } }, done);
  analytics.identify({ userId: "an-old", traits: { from: "old" } }, done);
  analytics.alias({ userId: "an-1", previousId: "an-old" }, done);
  analytics.group({ userId: "an-1", groupId: "an-team", traits: { name: "Team" } }, done);
  // Two calls left: closeAndFlush sends them.
  analytics.page({ userId: "an-1", name: "Docs", properties: { url: "https://shop.test/docs" } }, done);
  analytics.screen({ userId: "an-1", name: "Home" }, done);
  await analytics.closeAndFlush({ timeout: 20000 });
  assert.deepEqual(failures, [], failures.map((failure) => String(failure?.reason ?? failure)).join("; "));
  assert.ok(requests.length >= 2, `expected a size flush and a closing flush, saw ${requests.length} requests`);
  for (const request of requests) {
    assert.equal(new URL(request.url).pathname, "/v1/batch");
  }
  const person = await customer("an-1");
  assert.equal(person.attributes.tier, "gold");
  assert.equal(person.attributes.from, "old", "alias merged an-old into an-1");
  await gone("an-old");
  assert.deepEqual(await activityNames("an-1", "event"), ["opened_app", "purchased"]);
  assert.deepEqual(await activityNames("an-1", "page"), ["https://shop.test/docs"]);
  assert.deepEqual(await activityNames("an-1", "screen"), ["Home"]);
  const teams = await api.getCustomerRelationships("an-1");
  assert.deepEqual(teams.cio_relationships.map((item) => item.identifiers.object_id), ["an-team"]);
});

await runSteps();
