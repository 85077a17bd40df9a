// Drives the unmodified official Node client (customerio-node 5.2.0) against a running Herald:
// the App API's customer search, several profiles at once, a person's messages and what uses a
// segment, with the people, segment memberships and messages made through the same package's
// TrackClient. The Rust test crates/herald/tests/it/clients_node.rs starts the server, makes
// the campaigns (the client cannot) and runs this script with:
//
//   HERALD_TEST_BASE_URL           e.g. http://127.0.0.1:PORT
//   HERALD_TEST_SITE_ID            Track API site id
//   HERALD_TEST_API_KEY            Track API key
//   HERALD_TEST_APP_API_KEY        App API key
//   HERALD_TEST_SEGMENT_ID         a manual segment, empty
//   HERALD_TEST_PING_CAMPAIGN_ID   a running campaign that sends a webhook on `node_ping` events
//   HERALD_TEST_USING_CAMPAIGN_ID  a draft campaign triggered by entering the segment
//
// The script exits 0 when every step passed and 1 (after printing the failing step) otherwise.
// Only Node builtins and customerio-node are used.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import cio from "customerio-node";
import { rejection, required, runSteps, step } from "./harness.mjs";

const { TrackClient, APIClient, CustomerIORequestError, MissingParamError, IdentifierType } = cio;

const BASE = required("HERALD_TEST_BASE_URL").replace(/\/+$/, "");
const SITE_ID = required("HERALD_TEST_SITE_ID");
const API_KEY = required("HERALD_TEST_API_KEY");
const APP_API_KEY = required("HERALD_TEST_APP_API_KEY");
const SEGMENT_ID = Number(required("HERALD_TEST_SEGMENT_ID"));
const PING_CAMPAIGN_ID = Number(required("HERALD_TEST_PING_CAMPAIGN_ID"));
const USING_CAMPAIGN_ID = Number(required("HERALD_TEST_USING_CAMPAIGN_ID"));

// Retries are off so that a server error fails at once instead of being replayed and hidden.
const NO_RETRY = { maxRetries: 0 };
const track = new TrackClient(SITE_ID, API_KEY, { url: `${BASE}/api/v1`, retry: NO_RETRY });
const api = new APIClient(APP_API_KEY, { url: `${BASE}/v1`, retry: NO_RETRY });

const now = () => Math.floor(Date.now() / 1000);

// Every page of a search, following `next`: the ids (or, without one, the email) per page.
async function searchPages(filter, limit) {
  const pages = [];
  let start;
  for (;;) {
    const page = await api.searchCustomers(filter, { limit, start });
    assert.ok(Array.isArray(page.identifiers), JSON.stringify(page));
    assert.equal(page.identifiers.length, page.ids.length, JSON.stringify(page));
    assert.ok(page.identifiers.length <= limit, JSON.stringify(page));
    pages.push(page.identifiers.map((person) => person.id ?? person.email));
    assert.equal(typeof page.next, "string", JSON.stringify(page));
    if (!page.next) return pages;
    start = page.next;
  }
}

// --- Steps ------------------------------------------------------------------------------------

step("the people to search are identified, and two added to the manual segment", async () => {
  await track.identify("node-s1", { email: "Node.S1@Example.com", plan: "pro", vip: true });
  await track.identify("node-s2", { plan: "free" });
  await track.identify("node-s3", { plan: "pro", age: 30 });
  await track.identify("only.mail@example.com", { plan: "pro" });
  await track.identify("node-s5", {});
  await track.addCustomersToSegment(SEGMENT_ID, ["node-s1", "node-s3"]);
});

step("searchCustomers finds a segment's members", async () => {
  const page = await api.searchCustomers({ segment: { id: SEGMENT_ID } });
  assert.deepEqual(page.ids, ["node-s1", "node-s3"]);
  assert.equal(page.identifiers[0].email, "Node.S1@Example.com");
  assert.equal(typeof page.identifiers[0].cio_id, "string");
  assert.equal(page.next, "");
});

step("searchCustomers pages through an attribute filter with next", async () => {
  const pro = { attribute: { field: "plan", operator: "eq", value: "pro" } };
  assert.deepEqual(await searchPages(pro, 2), [
    ["node-s1", "node-s3"],
    ["only.mail@example.com"],
  ]);
  // A person without an id is an empty string in `ids`, as Customer.io documents.
  const page = await api.searchCustomers({
    attribute: { field: "email", operator: "eq", value: "only.mail@example.com" },
  });
  assert.deepEqual(page.ids, [""]);
  assert.equal(page.identifiers[0].id, null);
});

step("searchCustomers combines and, or and not", async () => {
  const inSegment = { segment: { id: SEGMENT_ID } };
  const notPro = { not: { attribute: { field: "plan", operator: "eq", value: "pro" } } };
  assert.deepEqual(await searchPages({ and: [inSegment, { attribute: { field: "age", operator: "exists" } }] }, 10), [
    ["node-s3"],
  ]);
  assert.deepEqual(await searchPages({ or: [inSegment, notPro] }, 10), [
    ["node-s1", "node-s2", "node-s3", "node-s5"],
  ]);
  assert.deepEqual(await searchPages({ and: [{ not: inSegment }, notPro] }, 10), [["node-s2", "node-s5"]]);
  // Attributes are compared as text, as Customer.io keeps them.
  assert.deepEqual(await searchPages({ attribute: { field: "vip", operator: "eq", value: "true" } }, 10), [
    ["node-s1"],
  ]);
});

step("searchCustomers refuses a bad filter with a 400 that says why", async () => {
  const operator = await rejection(
    api.searchCustomers({ attribute: { field: "plan", operator: "gt", value: "1" } }),
    400,
  );
  assert.match(operator.message, /filter\.attribute\.operator "gt" is not supported; use eq or exists/);
  const missing = await rejection(api.searchCustomers({ segment: { id: 987654 } }), 400);
  assert.match(missing.message, /segment 987654, which does not exist/);
  await rejection(api.searchCustomers({ segment: { id: SEGMENT_ID } }, { limit: 1001 }), 400);
  assert.throws(() => api.searchCustomers(null), MissingParamError);
});

step("getCustomersAttributes reads several profiles as getAttributes reads one", async () => {
  await track.addDevice("node-s1", "node-s1-phone", "ios");
  const found = await api.getCustomersAttributes(["node-s2", "nobody-here", "node-s1"]);
  assert.deepEqual(
    found.customers.map((entry) => entry.customer.id),
    ["node-s2", "node-s1"],
  );
  for (const entry of found.customers) {
    const one = await api.getAttributes(entry.customer.id);
    assert.deepEqual(entry.customer, one.customer);
  }
  const s1 = found.customers[1].customer;
  assert.equal(s1.attributes.plan, "pro");
  assert.equal(s1.devices[0].token, "node-s1-phone");
  assert.throws(() => api.getCustomersAttributes([]), MissingParamError);
});

// Waits until the campaign's webhooks to a person are all sent (the dispatcher sends them in the
// background), then returns their messages.
async function sentMessages(id, count) {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    const page = await api.getCustomerMessages(id, { limit: 100 });
    if (page.messages.length === count && page.messages.every((m) => m.status !== "queued")) {
      return page.messages;
    }
    await sleep(25);
  }
  assert.fail(`${id} never had ${count} messages sent`);
}

step("getCustomerMessages lists the messages sent, newest first, a page at a time", async () => {
  for (let i = 0; i < 3; i += 1) {
    await track.track("node-s1", { name: "node_ping", data: { n: i } });
  }
  const messages = await sentMessages("node-s1", 3);
  for (const message of messages) {
    assert.equal(message.type, "webhook");
    assert.equal(message.campaign_id, PING_CAMPAIGN_ID);
    assert.equal(message.customer_id, "node-s1");
    assert.equal(typeof message.metrics.sent, "number");
    assert.equal(typeof message.created, "number");
  }
  const paged = [];
  let start;
  let pages = 0;
  for (;;) {
    const page = await api.getCustomerMessages("node-s1", { limit: 2, start });
    pages += 1;
    paged.push(...page.messages.map((message) => message.id));
    if (!page.next) break;
    start = page.next;
  }
  assert.equal(pages, 2);
  assert.deepEqual(paged, messages.map((message) => message.id));

  const byEmail = await api.getCustomerMessages("node.s1@example.com", { idType: IdentifierType.Email });
  assert.equal(byEmail.messages.length, 3);
  const later = await api.getCustomerMessages("node-s1", { start_ts: now() + 3600, end_ts: now() + 7200 });
  assert.deepEqual(later, { messages: [], next: "" });
  assert.deepEqual(await api.getCustomerMessages("node-s2"), { messages: [], next: "" });
  await rejection(api.getCustomerMessages("nobody-here"), 404);
});

step("getSegmentUsedBy names the campaign its entry triggers", async () => {
  const answer = await api.getSegmentUsedBy(SEGMENT_ID);
  assert.deepEqual(answer, {
    segment_id: SEGMENT_ID,
    used_by: { campaigns: [USING_CAMPAIGN_ID], sent_newsletters: [], draft_newsletters: [] },
  });
  await rejection(api.getSegmentUsedBy(987654), 404);
});

await runSteps();
