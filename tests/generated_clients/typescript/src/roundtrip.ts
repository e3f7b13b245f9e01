// One activity's round trip through a client generated from Waymark's OpenAPI document
// (openapi-typescript's types, openapi-fetch's calls): start a standalone activity, take its
// task from the queue as a worker, complete it by task token, and read its outcome.
//
//     npm run generate && npm run typecheck
//     npx tsx src/roundtrip.ts --base-url http://127.0.0.1:7243 [--namespace default] [--prefix ts]
//
// Prints one line per step with its time, then `PASS roundtrip (1.23s)`; exits non-zero with
// `FAIL roundtrip: <why>` otherwise.
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual, parseArgs } from "node:util";
import createClient from "openapi-fetch";
import type { paths } from "../generated/schema.js";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string", default: "http://127.0.0.1:7243" },
    namespace: { type: "string", default: "default" },
    prefix: { type: "string", default: "ts" },
  },
});
const namespace = args.namespace!;
const activityId = `${args.prefix}-activity-${randomUUID()}`;
const taskQueue = `${args.prefix}-queue-${randomUUID()}`;
/** How long the whole round trip may take. */
const DEADLINE_MS = 30_000;

// Plain JSON values, as a Temporal user's json/plain payloads are.
const input = ["héllo ✓", { n: 1, tags: ["a", "b"], nested: { ok: true, ratio: 0.5 } }];
const result = [{ greeting: "Processed: héllo ✓", n: 2 }, "done"];

const client = createClient<paths>({ baseUrl: args["base-url"] });

function expectEq(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

/** The body of a 2xx answer; throws with the API error otherwise. */
function ok<T>(what: string, reply: { data?: T; error?: unknown; response: Response }): T {
  if (reply.data === undefined || !reply.response.ok) {
    throw new Error(`${what}: HTTP ${reply.response.status} ${JSON.stringify(reply.error)}`);
  }
  return reply.data;
}

async function step<T>(name: string, f: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const value = await f();
  console.log(`${name} (${((performance.now() - started) / 1000).toFixed(3)}s)`);
  return value;
}

async function roundtrip(): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  const params = { path: { namespace, activityId } };

  const started = await step("start", async () =>
    ok(
      "start",
      await client.POST("/api/v1/namespaces/{namespace}/activities/{activityId}", {
        params,
        body: {
          activityType: { name: "GeneratedClientActivity" },
          taskQueue: { name: taskQueue },
          input,
          startToCloseTimeout: "30s",
          requestId: randomUUID(),
        },
      }),
    ),
  );
  if (!started.runId) throw new Error(`start: no runId in ${JSON.stringify(started)}`);
  expectEq(started.started, true, "started");

  // A long poll answers `{}` when nothing came in time: poll again.
  const task = await step("poll", async () => {
    for (;;) {
      const polled = ok(
        "poll",
        await client.POST("/api/v1/namespaces/{namespace}/activity-tasks/poll", {
          params: { path: { namespace }, header: { "Grpc-Timeout": "10S" } },
          body: { taskQueue: { name: taskQueue }, identity: "generated-typescript-worker" },
        }),
      );
      if (polled.taskToken) return polled;
      if (Date.now() > deadline) throw new Error("poll: no task came");
    }
  });
  expectEq(task.activityId, activityId, "task's activityId");
  expectEq(task.activityType?.name, "GeneratedClientActivity", "task's activityType");
  expectEq(task.attempt, 1, "task's attempt");
  expectEq(task.input, input, "task's input");
  const taskToken = task.taskToken;
  if (!taskToken) throw new Error("poll: the task has no taskToken");

  await step("complete", async () =>
    ok(
      "complete",
      await client.POST("/api/v1/namespaces/{namespace}/activity-complete", {
        params: { path: { namespace } },
        body: { taskToken, result, identity: "generated-typescript-worker" },
      }),
    ),
  );

  const outcome = await step("outcome", async () => {
    for (;;) {
      const polled = ok(
        "outcome",
        await client.GET("/api/v1/namespaces/{namespace}/activities/{activityId}/outcome", {
          params: { ...params, query: { runId: started.runId }, header: { "Grpc-Timeout": "10S" } },
        }),
      );
      if (polled.outcome) return polled;
      if (Date.now() > deadline) throw new Error("outcome: the activity did not close");
    }
  });
  expectEq(outcome.runId, started.runId, "outcome's runId");
  expectEq(outcome.outcome?.failure, undefined, "outcome's failure");
  expectEq(outcome.outcome?.result, result, "outcome's result");
}

const began = performance.now();
try {
  await roundtrip();
  console.log(`PASS roundtrip (${((performance.now() - began) / 1000).toFixed(2)}s)`);
} catch (e) {
  console.log(`FAIL roundtrip: ${e instanceof Error ? e.message : String(e)}`);
  console.error(e);
  process.exitCode = 1;
}
