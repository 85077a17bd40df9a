// Drives customerio-node's APIClient.sendEmail and sendPush (with its SendEmailRequest and
// SendPushRequest builders) against a running Herald. The Rust test
// crates/herald/tests/it/clients_node.rs creates and starts the two transactional messages,
// runs this script with:
//
//   HERALD_TEST_BASE_URL       e.g. http://127.0.0.1:PORT
//   HERALD_TEST_APP_API_KEY    App API key
//   HERALD_TEST_EMAIL_MESSAGE  the id of a transactional email
//   HERALD_TEST_PUSH_MESSAGE   the id of a transactional push
//
// and then checks what reached its SMTP server and push gateway. The script prints the
// delivery ids it was given, one per line as `delivery <channel> <id>`, and exits 0 when every
// step passed.

import assert from "node:assert/strict";
import cio from "customerio-node";
import { rejection, required, runSteps, step } from "./harness.mjs";

const { APIClient, SendEmailRequest, SendPushRequest, CustomerIORequestError } = cio;

const BASE = required("HERALD_TEST_BASE_URL").replace(/\/+$/, "");
const api = new APIClient(required("HERALD_TEST_APP_API_KEY"), { url: `${BASE}/v1`, retry: { maxRetries: 0 } });
const EMAIL = Number(required("HERALD_TEST_EMAIL_MESSAGE"));
const PUSH = Number(required("HERALD_TEST_PUSH_MESSAGE"));

step("sendEmail queues a transactional email and answers its delivery id", async () => {
  const request = new SendEmailRequest({
    to: "node.buyer@example.com",
    identifiers: { email: "node.buyer@example.com" },
    transactional_message_id: EMAIL,
    message_data: { order_id: "N-1" },
  });
  const answer = await api.sendEmail(request);
  assert.equal(typeof answer.delivery_id, "string", JSON.stringify(answer));
  assert.equal(typeof answer.queued_at, "number", JSON.stringify(answer));
  console.log(`delivery email ${answer.delivery_id}`);
});

step("sendPush queues a transactional push to the device it brings", async () => {
  const request = new SendPushRequest({
    transactional_message_id: PUSH,
    identifiers: { id: "node-pusher" },
    message_data: { city: "Nantes" },
    title: "Login from {{ trigger.city }}",
    device: { token: "node-token", platform: "ios" },
  });
  const answer = await api.sendPush(request);
  assert.equal(typeof answer.delivery_id, "string", JSON.stringify(answer));
  console.log(`delivery push ${answer.delivery_id}`);
});

step("an attachment, which Herald cannot send, is a CustomerIORequestError", async () => {
  const request = new SendEmailRequest({
    to: "node.buyer@example.com",
    identifiers: { email: "node.buyer@example.com" },
    transactional_message_id: EMAIL,
  });
  request.attach("receipt.txt", "hello");
  await assert.rejects(api.sendEmail(request), (error) => {
    assert.ok(error instanceof CustomerIORequestError, String(error));
    assert.equal(error.statusCode, 400);
    assert.match(error.message, /attachments/);
    return true;
  });
});

step("listTransactionalMessages and getTransactionalMessage read them", async () => {
  const list = await api.listTransactionalMessages();
  assert.deepEqual(list.messages.map((message) => message.id).sort(), [EMAIL, PUSH].sort());
  const one = await api.getTransactionalMessage(EMAIL);
  assert.equal(one.message.id, EMAIL);
});

await runSteps();
