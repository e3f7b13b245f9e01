// Activities. They run in the same process as the scenarios (see run.ts), so
// they report to the scenario driving them through `probes`, keyed by the
// workflow id, which is unique per scenario and run.
import { ApplicationFailure, CancelledFailure, activityInfo, heartbeat, sleep } from '@temporalio/activity';

export interface Probe {
  started: Deferred;
  cancelled: Deferred;
}

export class Deferred {
  done = false;
  readonly promise: Promise<void>;
  private settle!: () => void;
  constructor() {
    this.promise = new Promise((resolve) => (this.settle = resolve));
  }
  resolve(): void {
    this.done = true;
    this.settle();
  }
}

export const probes = new Map<string, Probe>();

export function probeFor(workflowId: string): Probe {
  let probe = probes.get(workflowId);
  if (!probe) probes.set(workflowId, (probe = { started: new Deferred(), cancelled: new Deferred() }));
  return probe;
}

/** Fails its first attempt with a retryable error; returns `input@attempt` after. */
export async function flaky(input: string): Promise<string> {
  const { attempt } = activityInfo();
  if (attempt === 1) throw ApplicationFailure.retryable(`${input} failed on attempt 1`, 'Transient');
  return `${input}@${attempt}`;
}

/** Heartbeats every 100ms until the workflow cancels it. */
export async function heartbeatUntilCancelled(): Promise<never> {
  const probe = probeFor(activityInfo().workflowExecution?.workflowId ?? '');
  probe.started.resolve();
  try {
    for (;;) {
      heartbeat();
      // Rejects with CancelledFailure once a heartbeat response carries the
      // cancellation request.
      await sleep(100);
    }
  } catch (err) {
    if (err instanceof CancelledFailure) probe.cancelled.resolve();
    throw err;
  }
}
