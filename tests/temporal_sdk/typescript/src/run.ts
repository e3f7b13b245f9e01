// End-to-end scenarios for Temporal's TypeScript SDK against a Temporal-compatible
// server: the TypeScript counterpart of ../scenarios.py.
//
// Each scenario runs real workflows and activities through the server, with its
// own worker, task queue and workflow id (salted by --prefix so parallel runs
// never collide), and asserts what a user of the SDK would observe. Run it
// against Temporal's dev server to validate the scenarios themselves, and
// against Waymark to check compatibility:
//
//     npx tsx src/run.ts --address localhost:7233 [--only timer,cancel_activity]
//
// Prints `PASS name (1.23s)` or `FAIL name: reason` per scenario (stack traces
// go to stderr) and exits non-zero unless every selected scenario passed.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { temporal } from '@temporalio/proto';
import { Client, Connection, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  WorkflowBundleWithSourceMap,
  bundleWorkflowCode,
} from '@temporalio/worker';
import * as activities from './activities';
import { probeFor } from './activities';
import * as wf from './workflows';

const SCENARIO_TIMEOUT_MS = 30_000;

interface Ctx {
  client: Client;
  taskQueue: string;
  workflowId: string;
}

function expectEq<T>(actual: T, expected: T, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

/** How many events of the history have the given attributes set, e.g. `timerFiredEventAttributes`. */
async function countEvents(handle: WorkflowHandle, attributes: keyof temporal.api.history.v1.IHistoryEvent) {
  const { events } = await handle.fetchHistory();
  return (events ?? []).filter((event) => event[attributes] != null).length;
}

// --- Scenarios ------------------------------------------------------------------

const SCENARIOS: Record<string, (ctx: Ctx) => Promise<void>> = {
  async activities({ client, taskQueue, workflowId }) {
    const handle = await client.workflow.start(wf.activitiesWorkflow, { taskQueue, workflowId });
    // Every activity failed once and succeeded on its second attempt.
    expectEq(await handle.result(), 'a@2+b@2@2', 'workflow result');
    // Retries happen inside the server: each activity is scheduled once.
    expectEq(await countEvents(handle, 'activityTaskScheduledEventAttributes'), 3, 'ActivityTaskScheduled events');
  },

  async signals_and_query({ client, taskQueue, workflowId }) {
    const handle = await client.workflow.start(wf.greetingsWorkflow, { taskQueue, workflowId });
    expectEq(await handle.query(wf.namesQuery), [], 'query before signals');
    await handle.signal(wf.addSignal, 'ada');
    await handle.signal(wf.addSignal, 'grace');
    // Queries are consistent: they see every signal accepted before them.
    expectEq(await handle.query(wf.namesQuery), ['ada', 'grace'], 'query after signals');
    await handle.signal(wf.finishSignal);
    expectEq(await handle.result(), ['ada', 'grace'], 'workflow result');
    expectEq(await handle.query(wf.namesQuery), ['ada', 'grace'], 'query after close');
  },

  async workflow_failure({ client, taskQueue, workflowId }) {
    const handle = await client.workflow.start(wf.failingWorkflow, { taskQueue, workflowId });
    const err = await handle.result().then(
      (result) => {
        throw new Error(`workflow completed with ${JSON.stringify(result)} instead of failing`);
      },
      (err: unknown) => err,
    );
    if (!(err instanceof WorkflowFailedError)) throw new Error(`result() rejected with ${err}, not WorkflowFailedError`);
    if (!(err.cause instanceof ApplicationFailure)) throw new Error(`failure cause is ${err.cause}, not ApplicationFailure`);
    expectEq([err.cause.type, err.cause.message, err.cause.nonRetryable], ['Bad', 'bad input', true], 'cause');
  },

  async timer({ client, taskQueue, workflowId }) {
    const started = Date.now();
    const handle = await client.workflow.start(wf.timerWorkflow, { taskQueue, workflowId, args: [300] });
    const workflowElapsed = await handle.result();
    const clientElapsed = Date.now() - started;
    if (workflowElapsed < 300 || clientElapsed < 300) {
      throw new Error(`a 300ms timer fired after ${workflowElapsed}ms of workflow time, ${clientElapsed}ms of real time`);
    }
    expectEq(await countEvents(handle, 'timerStartedEventAttributes'), 1, 'TimerStarted events');
    expectEq(await countEvents(handle, 'timerFiredEventAttributes'), 1, 'TimerFired events');
  },

  async cancel_activity({ client, taskQueue, workflowId }) {
    const probe = probeFor(workflowId);
    const handle = await client.workflow.start(wf.cancelActivityWorkflow, { taskQueue, workflowId });
    // Cancel only once the activity runs, so that it is the activity (reached
    // through its heartbeats) that sees the cancellation.
    await probe.started.promise;
    await handle.signal(wf.cancelActivitySignal);
    // WAIT_CANCELLATION_COMPLETED: the workflow resumes only after the activity
    // acknowledged the cancellation, so the probe is settled by now.
    expectEq(await handle.result(), 'activity cancelled', 'what the workflow saw');
    expectEq(probe.cancelled.done, true, 'activity saw CancelledFailure');
  },
};

// --- Runner -------------------------------------------------------------------

function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err; e != null; e = (e as { cause?: unknown }).cause) {
    if (!(e instanceof Error)) {
      parts.push(String(e));
      break;
    }
    // gRPC errors carry their status code and details.
    const { code, details } = e as { code?: number; details?: string };
    parts.push(`${e.name}: ${e.message}${code !== undefined ? ` [grpc code ${code}: ${details}]` : ''}`);
  }
  return parts.join(' <- ');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      only: { type: 'string' },
      prefix: { type: 'string', default: `ts-${randomUUID().slice(0, 8)}` },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (!values.address) throw new Error('--address HOST:PORT is required');
  const names = values.only ? values.only.split(',') : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length) throw new Error(`unknown scenarios ${unknown}; known: ${Object.keys(SCENARIOS)}`);

  // The SDK logs the activity failures these scenarios provoke as warnings.
  Runtime.install({ logger: new DefaultLogger(values.verbose ? 'WARN' : 'ERROR') });
  const { address, namespace } = values;
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  const workerConnection = await NativeConnection.connect({ address });
  // Bundle the workflows once (webpack), rather than once per worker.
  const workflowBundle: WorkflowBundleWithSourceMap = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: new DefaultLogger('ERROR'),
  });

  const started = Date.now();
  let passed = 0;
  for (const name of names) {
    const t0 = Date.now();
    const taskQueue = `${values.prefix}-${name}`;
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace,
        taskQueue,
        workflowBundle,
        activities,
        // Send heartbeats (and so learn of cancellations) at most 200ms apart.
        maxHeartbeatThrottleInterval: '200ms',
      });
      const ctx = { client, taskQueue, workflowId: `${taskQueue}-${randomUUID()}` };
      await worker.runUntil(withTimeout(SCENARIOS[name](ctx), SCENARIO_TIMEOUT_MS));
      console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
      passed++;
    } catch (err) {
      console.log(`FAIL ${name}: ${errorChain(err)}`);
      console.error(err);
    }
  }
  console.log(`${passed}/${names.length} passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  await client.connection.close();
  await workerConnection.close();
  return passed === names.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
