// What every client script here shares: its settings from the environment, its steps, the
// runner that stops at the first failing step, and the check that a call was refused.
//
// The Rust tests in crates/herald/tests/it/clients_node.rs run the scripts; a script exits 0
// when every step passed, 1 after printing the failing step, and 2 when a setting is missing.

import assert from "node:assert/strict";
import cio from "customerio-node";

const { CustomerIORequestError } = cio;

/// A setting the Rust test passes in the environment.
export function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: run this script through the Rust test clients_node`);
    process.exit(2);
  }
  return value;
}

const steps = [];

/// Adds a step; steps run in the order they were added.
export function step(name, run) {
  steps.push({ name, run });
}

/// Runs the steps. Later steps build on earlier ones, so the first failure ends the run.
export async function runSteps() {
  for (const { name, run } of steps) {
    const started = Date.now();
    try {
      await run();
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (error) {
      console.error(`FAIL ${name}`);
      console.error(error?.stack ?? error);
      if (error instanceof CustomerIORequestError) {
        console.error(`  status ${error.statusCode}, body ${error.body}`);
      }
      process.exit(1);
    }
  }
  console.log(`all ${steps.length} steps passed`);
}

/// Asserts that a call was refused with a CustomerIORequestError of this status; returns it.
export async function rejection(promise, statusCode) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(
    caught instanceof CustomerIORequestError,
    `expected a CustomerIORequestError, got ${caught?.stack ?? caught}`,
  );
  assert.equal(caught.statusCode, statusCode, `status of ${caught.message} (body ${caught.body})`);
  return caught;
}
