// Workflows. The worker bundles this file (and what it imports) with webpack and
// runs it in its deterministic sandbox: import only types from activities.ts.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type * as activities from './activities';

const { flaky } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10s',
  // Quick retries keep the scenario fast.
  retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
});

const { heartbeatUntilCancelled } = proxyActivities<typeof activities>({
  startToCloseTimeout: '20s',
  heartbeatTimeout: '2s',
  retry: { maximumAttempts: 1 },
  // Resume the workflow only once the activity has acknowledged the cancellation.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Two activities in parallel, then one fed by both; each succeeds on retry. */
export async function activitiesWorkflow(): Promise<string> {
  const [a, b] = await Promise.all([flaky('a'), flaky('b')]);
  return await flaky(`${a}+${b}`);
}

export const addSignal = defineSignal<[string]>('add');
export const finishSignal = defineSignal('finish');
export const namesQuery = defineQuery<string[]>('names');

/** Collects names sent by signal until told to finish. */
export async function greetingsWorkflow(): Promise<string[]> {
  const names: string[] = [];
  let finished = false;
  setHandler(addSignal, (name) => void names.push(name));
  setHandler(finishSignal, () => void (finished = true));
  setHandler(namesQuery, () => names);
  await condition(() => finished);
  return names;
}

export async function failingWorkflow(): Promise<never> {
  throw ApplicationFailure.nonRetryable('bad input', 'Bad');
}

/** Sleeps `ms` and returns the workflow time that passed. */
export async function timerWorkflow(ms: number): Promise<number> {
  const started = Date.now();
  await sleep(ms);
  return Date.now() - started;
}

export const cancelActivitySignal = defineSignal('cancelActivity');

/** Starts a heartbeating activity and cancels it when signalled; returns what it saw. */
export async function cancelActivityWorkflow(): Promise<string> {
  const scope = new CancellationScope();
  setHandler(cancelActivitySignal, () => scope.cancel());
  try {
    await scope.run(() => heartbeatUntilCancelled());
    return 'activity completed';
  } catch (err) {
    if (isCancellation(err)) return 'activity cancelled';
    throw err;
  }
}
