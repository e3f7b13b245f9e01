#!/usr/bin/env python3
"""End-to-end scenarios for Temporal's Python SDK against a Temporal-compatible server.

Each scenario runs real workflows and activities through the server, with its own
worker, task queue and workflow ids (salted by --prefix so parallel runs never
collide), and asserts what a user of the SDK would observe. Run it against
Temporal's dev server to validate the scenarios themselves, and against Waymark
to check compatibility:

    python3 tests/temporal_sdk/scenarios.py --address localhost:7233 [--only timers,terminate]

Prints `PASS name (1.23s)` or `FAIL name: reason` per scenario (full tracebacks go
to stderr) and exits non-zero unless every selected scenario passed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, TypeVar

from temporalio import activity, workflow
from temporalio import exceptions as errors
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import RetryPolicy
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Worker
from temporalio.workflow import ActivityCancellationType

SCENARIO_TIMEOUT = 30.0
# Many scenarios retry activities; quick retries keep the suite fast.
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0)
NO_RETRY = RetryPolicy(maximum_attempts=1)
ASYNC_ACTIVITY_ID = "completed-from-outside"


# --- Process-local rendezvous between activities and scenarios ---------------
#
# Workers run in this process, and async activities run on the same event loop
# as the scenario driving them, so an activity can report to (or wait for) its
# scenario through plain objects. They are keyed by workflow id, which is unique
# per scenario and run.


@dataclass
class Probe:
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # A held cleanup (see heartbeat_until_cancelled) waits for this.
    release_cleanup: asyncio.Event = field(default_factory=asyncio.Event)
    cleaned_up: asyncio.Event = field(default_factory=asyncio.Event)
    runs: int = 0  # executions of always_fail
    task_token: bytes = b""  # of complete_from_outside


PROBES: dict[str, Probe] = {}


def current_probe() -> Probe:
    """The probe of the workflow that scheduled the current activity."""
    return PROBES[activity.info().workflow_id or ""]


# --- Activities ---------------------------------------------------------------


@activity.defn
async def report_execution() -> dict[str, Any]:
    """Reports where and with which options it ran, as the worker saw them."""
    info = activity.info()
    policy = info.retry_policy
    return {
        "task_queue": info.task_queue,
        "activity_id": info.activity_id,
        "schedule_to_close": _seconds(info.schedule_to_close_timeout),
        "start_to_close": _seconds(info.start_to_close_timeout),
        "heartbeat": _seconds(info.heartbeat_timeout),
        "retry": None
        if policy is None
        else {
            "initial_interval": _seconds(policy.initial_interval),
            "backoff_coefficient": policy.backoff_coefficient,
            "maximum_interval": _seconds(policy.maximum_interval),
            "maximum_attempts": policy.maximum_attempts,
            "non_retryable_error_types": list(policy.non_retryable_error_types or []),
        },
    }


def _seconds(duration: timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds()


@activity.defn
async def square(x: int) -> int:
    return x * x


@activity.defn
async def fail_until_attempt(succeeding_attempt: int) -> int:
    attempt = activity.info().attempt
    if attempt < succeeding_attempt:
        raise RuntimeError(f"attempt {attempt} fails on purpose")
    return attempt


@activity.defn
async def fail_non_retryable() -> None:
    raise errors.ApplicationError("bad input", {"field": "amount"}, type="Bad", non_retryable=True)


@activity.defn
async def always_fail() -> None:
    current_probe().runs += 1
    raise RuntimeError("always fails")


@activity.defn
async def count_with_checkpoints(total: int) -> dict[str, int]:
    """Counts to `total`, heartbeating progress; the first attempt crashes halfway
    and the retry resumes from the last checkpoint it finds in heartbeat details."""
    info = activity.info()
    resumed_from = info.heartbeat_details[0] if info.heartbeat_details else 0
    for done in range(resumed_from, total):
        if info.attempt == 1 and done == total // 2:
            raise RuntimeError(f"crashed after {done} items")
        activity.heartbeat(done + 1)
    return {"attempt": info.attempt, "resumed_from": resumed_from}


@activity.defn
async def stall_after_first_heartbeat() -> None:
    activity.heartbeat()
    # Only worker shutdown ends this: nothing tells it about the heartbeat timeout.
    await activity.wait_for_cancelled()


@activity.defn
async def heartbeat_until_cancelled(hold_cleanup: bool) -> None:
    """Heartbeats (which is how cancellation reaches it) until cancelled, then runs
    a cleanup that, if `hold_cleanup`, lasts until the scenario releases it."""
    state = current_probe()
    state.started.set()
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        state.cancelled.set()
        if hold_cleanup:
            await state.release_cleanup.wait()
        state.cleaned_up.set()
        raise


@activity.defn
async def is_cleaned_up() -> bool:
    return current_probe().cleaned_up.is_set()


@activity.defn
async def cleanup() -> None:
    """Stands in for compensation work; the scenario checks its history events."""


@activity.defn
async def complete_from_outside() -> str:
    state = current_probe()
    state.task_token = activity.info().task_token
    state.started.set()
    activity.raise_complete_async()


ACTIVITIES = [
    report_execution,
    square,
    fail_until_attempt,
    fail_non_retryable,
    always_fail,
    count_with_checkpoints,
    stall_after_first_heartbeat,
    heartbeat_until_cancelled,
    is_cleaned_up,
    cleanup,
    complete_from_outside,
]


# --- Workflows ----------------------------------------------------------------


@workflow.defn
class ActivityOptionsWorkflow:
    @workflow.run
    async def run(self, other_task_queue: str) -> dict[str, Any]:
        return await workflow.execute_activity(
            report_execution,
            task_queue=other_task_queue,
            schedule_to_close_timeout=timedelta(seconds=20),
            schedule_to_start_timeout=timedelta(seconds=10),
            start_to_close_timeout=timedelta(seconds=15),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.5,
                maximum_interval=timedelta(seconds=2),
                maximum_attempts=4,
                non_retryable_error_types=["Bad"],
            ),
            activity_id="options-activity",
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )


@workflow.defn
class ParallelActivitiesWorkflow:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(square, i, start_to_close_timeout=timedelta(seconds=10))
                    for i in range(count)
                )
            )
        )


@workflow.defn
class RetryingActivityWorkflow:
    @workflow.run
    async def run(self, succeeding_attempt: int) -> int:
        return await workflow.execute_activity(
            fail_until_attempt,
            succeeding_attempt,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=FAST_RETRY,
        )


@workflow.defn
class NonRetryableErrorWorkflow:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        try:
            await workflow.execute_activity(
                fail_non_retryable,
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=FAST_RETRY,
            )
        except errors.ActivityError as err:
            cause = err.cause
            if not isinstance(cause, errors.ApplicationError):
                raise
            return {
                "retry_state": err.retry_state.name if err.retry_state else None,
                "type": cause.type,
                "message": cause.message,
                "details": list(cause.details),
                "non_retryable": cause.non_retryable,
            }
        raise errors.ApplicationError("activity unexpectedly succeeded")


# The next three let the activity failure fail the workflow, so the client sees
# the whole failure chain as the server carried it.


@workflow.defn
class MaximumAttemptsWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            always_fail,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
        )


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            stall_after_first_heartbeat,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=NO_RETRY,
        )


@workflow.defn
class ScheduleToCloseTimeoutWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            heartbeat_until_cancelled,
            False,
            schedule_to_close_timeout=timedelta(seconds=1),
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=5),
        )


@workflow.defn
class HeartbeatResumeWorkflow:
    @workflow.run
    async def run(self, total: int) -> dict[str, int]:
        return await workflow.execute_activity(
            count_with_checkpoints,
            total,
            start_to_close_timeout=timedelta(seconds=5),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=FAST_RETRY,
        )


@workflow.defn
class CancelActivityWorkflow:
    """Cancels its activity when signalled, which the scenario does only once the
    activity is running, so the cancellation reaches it through a heartbeat."""

    def __init__(self) -> None:
        self._cancel_requested = False

    @workflow.signal
    def cancel_activity(self) -> None:
        self._cancel_requested = True

    @workflow.run
    async def run(self, cancellation_type: str) -> dict[str, Any]:
        handle = workflow.start_activity(
            heartbeat_until_cancelled,
            True,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1),
            cancellation_type=ActivityCancellationType[cancellation_type],
        )
        await workflow.wait_condition(lambda: self._cancel_requested)
        handle.cancel()
        try:
            await handle
        except errors.ActivityError as err:
            # Whether the activity's cleanup had finished at the moment this
            # workflow resumed is the behaviour the cancellation type controls.
            cleaned_up = await workflow.execute_activity(
                is_cleaned_up, start_to_close_timeout=timedelta(seconds=5)
            )
            return {"cause": type(err.cause).__name__, "cleaned_up_before_resume": cleaned_up}
        raise errors.ApplicationError("activity unexpectedly succeeded")


@workflow.defn
class AsyncCompletionWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            complete_from_outside,
            activity_id=ASYNC_ACTIVITY_ID,
            start_to_close_timeout=timedelta(seconds=20),
        )


@workflow.defn
class LocalActivityWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_local_activity(
            fail_until_attempt,
            2,
            # Not start_to_close: SDK 1.35 leaves a timer behind for each failed
            # attempt that panics if it fires after the worker has shut down.
            schedule_to_close_timeout=timedelta(seconds=5),
            retry_policy=FAST_RETRY,
        )


@workflow.defn
class GreetingsWorkflow:
    """Collects names from signals until told to finish."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._finished = False

    @workflow.signal
    def add(self, name: str) -> None:
        self._names.append(name)

    @workflow.signal
    def finish(self) -> None:
        self._finished = True

    @workflow.query
    def names(self) -> list[str]:
        return self._names

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self._finished)
        return self._names


@workflow.defn
class TimersWorkflow:
    @workflow.run
    async def run(self) -> float:
        start = workflow.now()
        # Plain asyncio sleeps are durable timers too.
        await asyncio.gather(workflow.sleep(0.2), asyncio.sleep(0.3))
        return (workflow.now() - start).total_seconds()


@workflow.defn
class ContinueAsNewWorkflow:
    @workflow.run
    async def run(self, count: int, until: int) -> int:
        if count < until:
            workflow.continue_as_new(args=[count + 1, until])
        return count


@workflow.defn
class CancellableWorkflow:
    @workflow.run
    async def run(self) -> None:
        try:
            await workflow.execute_activity(
                heartbeat_until_cancelled,
                False,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=1),
            )
        except (asyncio.CancelledError, errors.ActivityError) as err:
            # Cancelling the workflow cancels the activity it awaits, which
            # surfaces here as an ActivityError caused by CancelledError.
            if not errors.is_cancelled_exception(err):
                raise
            # The cancellation was delivered once and has been caught, so
            # activities started now run normally.
            await workflow.execute_activity(cleanup, start_to_close_timeout=timedelta(seconds=5))
            raise


@workflow.defn
class FailingWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise errors.ApplicationError("order rejected", {"order": 42}, type="Rejected")


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


WORKFLOWS = [
    ActivityOptionsWorkflow,
    ParallelActivitiesWorkflow,
    RetryingActivityWorkflow,
    NonRetryableErrorWorkflow,
    MaximumAttemptsWorkflow,
    HeartbeatTimeoutWorkflow,
    ScheduleToCloseTimeoutWorkflow,
    HeartbeatResumeWorkflow,
    CancelActivityWorkflow,
    AsyncCompletionWorkflow,
    LocalActivityWorkflow,
    GreetingsWorkflow,
    TimersWorkflow,
    ContinueAsNewWorkflow,
    CancellableWorkflow,
    FailingWorkflow,
    HelloWorkflow,
]


# --- Scenario plumbing --------------------------------------------------------


@dataclass
class Ctx:
    """What a scenario gets: a client, plus a task queue served by a worker with
    every workflow and activity above, and a workflow id that no other scenario
    or run uses."""

    client: Client
    address: str
    namespace: str
    task_queue: str
    workflow_id: str

    @property
    def probe(self) -> Probe:
        return PROBES[self.workflow_id]

    async def start(self, run: Callable[..., Awaitable[Any]], *args: Any, **options: Any) -> WorkflowHandle:
        return await self.client.start_workflow(
            run, args=list(args), id=self.workflow_id, task_queue=self.task_queue, **options
        )

    async def execute(self, run: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await (await self.start(run, *args)).result()


T = TypeVar("T")


def expect_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_type(value: Any, cls: type[T], what: str) -> T:
    if not isinstance(value, cls):
        raise AssertionError(f"{what}: expected {cls.__name__}, got {value!r}")
    return value


async def failure_cause(handle: WorkflowHandle) -> BaseException | None:
    """Awaits a workflow that must fail and returns the cause the client sees."""
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        return err.cause
    raise AssertionError(f"workflow completed with {result!r} instead of failing")


async def event_types(handle: WorkflowHandle) -> list[int]:
    return [event.event_type for event in (await handle.fetch_history()).events]


SCENARIOS: dict[str, Callable[[Ctx], Awaitable[None]]] = {}


def scenario(fn: Callable[[Ctx], Awaitable[None]]) -> Callable[[Ctx], Awaitable[None]]:
    SCENARIOS[fn.__name__] = fn
    return fn


# --- Scenarios ----------------------------------------------------------------


@scenario
async def activity_options(ctx: Ctx) -> None:
    other_queue = f"{ctx.task_queue}-other"
    async with Worker(ctx.client, task_queue=other_queue, activities=[report_execution]):
        seen = await ctx.execute(ActivityOptionsWorkflow.run, other_queue)
    expect_eq(seen["task_queue"], other_queue, "task queue the activity ran on")
    expect_eq(seen["activity_id"], "options-activity", "activity id")
    expect_eq(
        (seen["schedule_to_close"], seen["start_to_close"], seen["heartbeat"]),
        (20.0, 15.0, 5.0),
        "schedule-to-close, start-to-close and heartbeat timeouts",
    )
    expect_eq(
        seen["retry"],
        {
            "initial_interval": 0.1,
            "backoff_coefficient": 1.5,
            "maximum_interval": 2.0,
            "maximum_attempts": 4,
            "non_retryable_error_types": ["Bad"],
        },
        "retry policy",
    )


@scenario
async def parallel_activities(ctx: Ctx) -> None:
    results = await ctx.execute(ParallelActivitiesWorkflow.run, 10)
    expect_eq(results, [i * i for i in range(10)], "results")


@scenario
async def retries_attempt(ctx: Ctx) -> None:
    expect_eq(await ctx.execute(RetryingActivityWorkflow.run, 3), 3, "attempt that succeeded")


@scenario
async def non_retryable_error(ctx: Ctx) -> None:
    seen = await ctx.execute(NonRetryableErrorWorkflow.run)
    expect_eq(
        seen,
        {
            "retry_state": "NON_RETRYABLE_FAILURE",
            "type": "Bad",
            "message": "bad input",
            "details": [{"field": "amount"}],
            "non_retryable": True,
        },
        "error seen by the workflow",
    )


@scenario
async def maximum_attempts(ctx: Ctx) -> None:
    cause = await failure_cause(await ctx.start(MaximumAttemptsWorkflow.run))
    activity_error = expect_type(cause, errors.ActivityError, "workflow failure cause")
    expect_eq(activity_error.retry_state, errors.RetryState.MAXIMUM_ATTEMPTS_REACHED, "retry state")
    expect_type(activity_error.cause, errors.ApplicationError, "activity failure cause")
    expect_eq(ctx.probe.runs, 2, "activity executions")


@scenario
async def heartbeat_details_resume(ctx: Ctx) -> None:
    seen = await ctx.execute(HeartbeatResumeWorkflow.run, 6)
    expect_eq(seen, {"attempt": 2, "resumed_from": 3}, "resumed attempt")


@scenario
async def heartbeat_timeout(ctx: Ctx) -> None:
    cause = await failure_cause(await ctx.start(HeartbeatTimeoutWorkflow.run))
    activity_error = expect_type(cause, errors.ActivityError, "workflow failure cause")
    timeout = expect_type(activity_error.cause, errors.TimeoutError, "activity failure cause")
    expect_eq(timeout.type, errors.TimeoutType.HEARTBEAT, "timeout type")


@scenario
async def schedule_to_close_timeout(ctx: Ctx) -> None:
    cause = await failure_cause(await ctx.start(ScheduleToCloseTimeoutWorkflow.run))
    activity_error = expect_type(cause, errors.ActivityError, "workflow failure cause")
    timeout = expect_type(activity_error.cause, errors.TimeoutError, "activity failure cause")
    expect_eq(timeout.type, errors.TimeoutType.SCHEDULE_TO_CLOSE, "timeout type")


@scenario
async def cancel_wait_cancellation_completed(ctx: Ctx) -> None:
    handle = await ctx.start(CancelActivityWorkflow.run, "WAIT_CANCELLATION_COMPLETED")
    await ctx.probe.started.wait()
    await handle.signal(CancelActivityWorkflow.cancel_activity)
    await ctx.probe.cancelled.wait()
    # Hold the cleanup open long enough that a workflow resumed too early would
    # observe it unfinished.
    await asyncio.sleep(0.5)
    ctx.probe.release_cleanup.set()
    expect_eq(
        await handle.result(),
        {"cause": "CancelledError", "cleaned_up_before_resume": True},
        "what the workflow saw",
    )


@scenario
async def cancel_try_cancel(ctx: Ctx) -> None:
    handle = await ctx.start(CancelActivityWorkflow.run, "TRY_CANCEL")
    await ctx.probe.started.wait()
    await handle.signal(CancelActivityWorkflow.cancel_activity)
    # The activity's cleanup is held until released below, so the workflow can
    # only complete here if it did not wait for the cancellation to finish.
    expect_eq(
        await handle.result(),
        {"cause": "CancelledError", "cleaned_up_before_resume": False},
        "what the workflow saw",
    )
    # The cancellation still reaches the activity, on its next heartbeat.
    await ctx.probe.cancelled.wait()


@scenario
async def async_completion_token(ctx: Ctx) -> None:
    handle = await ctx.start(AsyncCompletionWorkflow.run)
    await ctx.probe.started.wait()
    completer = await Client.connect(ctx.address, namespace=ctx.namespace)
    await completer.get_async_activity_handle(task_token=ctx.probe.task_token).complete("done by token")
    expect_eq(await handle.result(), "done by token", "workflow result")


@scenario
async def async_completion_by_id(ctx: Ctx) -> None:
    handle = await ctx.start(AsyncCompletionWorkflow.run)
    await ctx.probe.started.wait()
    completer = await Client.connect(ctx.address, namespace=ctx.namespace)
    activity_handle = completer.get_async_activity_handle(
        workflow_id=ctx.workflow_id, run_id=handle.result_run_id, activity_id=ASYNC_ACTIVITY_ID
    )
    await activity_handle.heartbeat("halfway")
    [pending] = (await handle.describe()).raw_description.pending_activities
    expect_eq(pending.activity_id, ASYNC_ACTIVITY_ID, "pending activity id")
    expect_eq(
        ctx.client.data_converter.payload_converter.from_payloads(pending.heartbeat_details.payloads),
        ["halfway"],
        "heartbeat details shown by describe",
    )
    await activity_handle.complete("done by id")
    expect_eq(await handle.result(), "done by id", "workflow result")


@scenario
async def local_activities(ctx: Ctx) -> None:
    handle = await ctx.start(LocalActivityWorkflow.run)
    expect_eq(await handle.result(), 2, "attempt that succeeded")
    events = await event_types(handle)
    if EventType.EVENT_TYPE_MARKER_RECORDED not in events:
        raise AssertionError("history has no MARKER_RECORDED event")
    if EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in events:
        raise AssertionError("local activity was scheduled as a regular activity")


@scenario
async def signals_and_queries(ctx: Ctx) -> None:
    handle = await ctx.start(GreetingsWorkflow.run)
    expect_eq(await handle.query(GreetingsWorkflow.names), [], "query before signals")
    await handle.signal(GreetingsWorkflow.add, "ada")
    await handle.signal(GreetingsWorkflow.add, "grace")
    expect_eq(await handle.query(GreetingsWorkflow.names), ["ada", "grace"], "query after signals")
    await handle.signal(GreetingsWorkflow.finish)
    expect_eq(await handle.result(), ["ada", "grace"], "workflow result")
    expect_eq(await handle.query(GreetingsWorkflow.names), ["ada", "grace"], "query after close")


@scenario
async def timers(ctx: Ctx) -> None:
    handle = await ctx.start(TimersWorkflow.run)
    elapsed = await handle.result()
    if elapsed < 0.3:
        raise AssertionError(f"a 0.3s timer fired after {elapsed}s of workflow time")
    events = await event_types(handle)
    expect_eq(events.count(EventType.EVENT_TYPE_TIMER_STARTED), 2, "TIMER_STARTED events")
    expect_eq(events.count(EventType.EVENT_TYPE_TIMER_FIRED), 2, "TIMER_FIRED events")


@scenario
async def continue_as_new(ctx: Ctx) -> None:
    handle = await ctx.start(ContinueAsNewWorkflow.run, 0, 2)
    expect_eq(await handle.result(), 2, "result at the end of the chain")
    # The start handle is not pinned to a run, so describe shows the latest one.
    latest = await handle.describe()
    expect_eq(latest.status, WorkflowExecutionStatus.COMPLETED, "latest run status")
    if latest.run_id == handle.first_execution_run_id:
        raise AssertionError("describe still shows the first run")
    first_run = ctx.client.get_workflow_handle(ctx.workflow_id, run_id=handle.first_execution_run_id)
    expect_eq(
        (await first_run.describe()).status, WorkflowExecutionStatus.CONTINUED_AS_NEW, "first run status"
    )


@scenario
async def workflow_cancel_cleanup(ctx: Ctx) -> None:
    handle = await ctx.start(CancellableWorkflow.run)
    await ctx.probe.started.wait()
    await handle.cancel()
    cause = await failure_cause(handle)
    expect_type(cause, errors.CancelledError, "workflow failure cause")
    expect_eq((await handle.describe()).status, WorkflowExecutionStatus.CANCELED, "status")
    history = (await handle.fetch_history()).events
    cleanup_scheduled = {
        event.event_id
        for event in history
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "cleanup"
    }
    cleanup_completed = [
        event
        for event in history
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and event.activity_task_completed_event_attributes.scheduled_event_id in cleanup_scheduled
    ]
    expect_eq(len(cleanup_completed), 1, "completed cleanup activities")


@scenario
async def workflow_failure(ctx: Ctx) -> None:
    cause = await failure_cause(await ctx.start(FailingWorkflow.run))
    error = expect_type(cause, errors.ApplicationError, "workflow failure cause")
    expect_eq(
        (error.type, error.message, list(error.details)),
        ("Rejected", "order rejected", [{"order": 42}]),
        "type, message and details",
    )


@scenario
async def describe_history_list(ctx: Ctx) -> None:
    handle = await ctx.start(HelloWorkflow.run, "world")
    expect_eq(await handle.result(), "hello world", "workflow result")
    description = await handle.describe()
    expect_eq(
        (description.status, description.workflow_type, description.task_queue),
        (WorkflowExecutionStatus.COMPLETED, "HelloWorkflow", ctx.task_queue),
        "status, type and task queue",
    )
    events = await event_types(handle)
    expect_eq(events[0], EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, "first event")
    expect_eq(events[-1], EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, "last event")

    # Visibility may lag behind the workflow closing, so poll for a bounded time.
    query = f'WorkflowId = "{ctx.workflow_id}"'
    deadline = time.monotonic() + 10
    while True:
        listed = [execution async for execution in ctx.client.list_workflows(query)]
        if listed and listed[0].status == WorkflowExecutionStatus.COMPLETED:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"list_workflows({query!r}) returned {listed!r}")
        await asyncio.sleep(0.2)
    expect_eq(
        [(execution.id, execution.run_id, execution.workflow_type) for execution in listed],
        [(ctx.workflow_id, handle.result_run_id, "HelloWorkflow")],
        "listed workflows",
    )
    expect_eq((await ctx.client.count_workflows(query)).count, 1, "count_workflows")


@scenario
async def signal_with_start(ctx: Ctx) -> None:
    handle = await ctx.start(GreetingsWorkflow.run, start_signal="add", start_signal_args=["early bird"])
    await handle.signal(GreetingsWorkflow.finish)
    expect_eq(await handle.result(), ["early bird"], "workflow result")


@scenario
async def terminate(ctx: Ctx) -> None:
    handle = await ctx.start(GreetingsWorkflow.run)
    await handle.terminate(reason="stopped by scenario")
    cause = await failure_cause(handle)
    terminated = expect_type(cause, errors.TerminatedError, "workflow failure cause")
    expect_eq(terminated.message, "stopped by scenario", "termination reason")
    expect_eq((await handle.describe()).status, WorkflowExecutionStatus.TERMINATED, "status")


# --- Runner -------------------------------------------------------------------


async def run_scenario(name: str, client: Client, args: argparse.Namespace) -> None:
    """Runs one scenario beside a worker of its own; raises if it fails."""
    ctx = Ctx(
        client=client,
        address=args.address,
        namespace=args.namespace,
        task_queue=f"{args.prefix}-{name}",
        workflow_id=f"{args.prefix}-{name}",
    )
    PROBES[ctx.workflow_id] = Probe()
    worker = Worker(client, task_queue=ctx.task_queue, workflows=WORKFLOWS, activities=ACTIVITIES)
    # Beside rather than `async with worker`, so that a worker dying (say, on a
    # poll RPC the server rejects) fails the scenario with the worker's error.
    worker_run = asyncio.create_task(worker.run())
    scenario_run = asyncio.create_task(SCENARIOS[name](ctx))
    try:
        done, _ = await asyncio.wait(
            {scenario_run, worker_run}, timeout=SCENARIO_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if scenario_run in done:
            scenario_run.result()
        elif worker_run in done:
            raise RuntimeError("worker stopped") from worker_run.exception()
        else:
            # A suspended task's stack is its outermost frame: the scenario's.
            where = "".join(f" at line {frame.f_lineno}" for frame in scenario_run.get_stack(limit=1))
            raise TimeoutError(f"timed out after {SCENARIO_TIMEOUT:.0f}s{where}")
    finally:
        scenario_run.cancel()
        # A cleanup still held would keep the worker from shutting down.
        ctx.probe.release_cleanup.set()
        # Cancels any activity still running.
        await worker.shutdown()
        await asyncio.gather(scenario_run, worker_run, return_exceptions=True)


def error_chain(err: BaseException | None) -> str:
    """The error and its causes on one line; SDK errors keep the real reason in
    their causes (e.g. WorkflowFailureError <- ActivityError <- TimeoutError)."""
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__
    return " <- ".join(parts)


async def report(name: str, client: Client, args: argparse.Namespace) -> bool:
    started = time.monotonic()
    try:
        await run_scenario(name, client, args)
    except Exception as err:
        steps = [frame for frame in traceback.extract_tb(err.__traceback__) if frame.name in SCENARIOS]
        where = f" (line {steps[-1].lineno})" if steps else ""
        print(f"FAIL {name}: {error_chain(err)}{where}", flush=True)
        traceback.print_exception(err, file=sys.stderr)
        return False
    print(f"PASS {name} ({time.monotonic() - started:.2f}s)", flush=True)
    return True


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", required=True, help="server gRPC address, HOST:PORT")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--only", help="comma-separated scenario names to run (default: all)")
    parser.add_argument(
        "--prefix", default=f"sdk-{uuid.uuid4().hex[:8]}", help="salt for workflow ids and task queues"
    )
    parser.add_argument("--verbose", action="store_true", help="show SDK warnings, e.g. on failing activities")
    args = parser.parse_args()

    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")

    # The SDK logs the activity failures these scenarios provoke as warnings.
    level = "WARN" if args.verbose else "ERROR"
    log_filter = TelemetryFilter(core_level=level, other_level=level)
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=log_filter))))
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR)
    client = await Client.connect(args.address, namespace=args.namespace)
    started = time.monotonic()
    results = [await report(name, client, args) for name in names]
    print(f"{sum(results)}/{len(results)} passed in {time.monotonic() - started:.1f}s", flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
