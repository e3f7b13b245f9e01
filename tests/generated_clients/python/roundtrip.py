"""One activity's round trip through a client generated from Waymark's OpenAPI document.

Generates a client with openapi-python-client from openapi/waymark.json into a temporary
directory, imports it, and uses it as a client and a worker would: start a standalone activity,
take its task from the queue, complete it by task token, and read its outcome.

    pip install -r tests/generated_clients/python/requirements.txt
    python3 tests/generated_clients/python/roundtrip.py --base-url http://127.0.0.1:7243

Prints one line per step with its time, then `PASS roundtrip (1.23s)`; exits non-zero with
`FAIL roundtrip: <why>` otherwise.

Request bodies are built from their wire JSON with the generated models' `from_dict`, and
payloads are compared as the models' `to_dict` prints them, so the program does not depend on
how precisely the document types a payload.
"""

import argparse
import importlib
import pkgutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SPEC = Path(__file__).resolve().parents[3] / "openapi" / "waymark.json"
PACKAGE = "waymark_client"
#: How long the whole round trip may take, in seconds.
DEADLINE = 30.0

# Plain JSON values, as a Temporal user's json/plain payloads are.
INPUT = ["héllo ✓", {"n": 1, "tags": ["a", "b"], "nested": {"ok": True, "ratio": 0.5}}]
RESULT = [{"greeting": "Processed: héllo ✓", "n": 2}, "done"]


def generate(into: Path) -> None:
    """Generates the client package `PACKAGE` into `into`; the generator's warnings go to stderr."""
    out = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(SPEC),
         "--meta", "none", "--output-path", str(into / PACKAGE)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"openapi-python-client failed:\n{out.stdout}\n{out.stderr}")
    # It warns on stderr of each schema it could not use (and dropped); this round trip does
    # not need them, but they are worth seeing.
    dropped = [line for line in out.stderr.splitlines() if line.startswith("Unable to process schema")]
    for line in dropped:
        print(f"generator: {line}", file=sys.stderr)


def operation(name: str):
    """The generated module of operation `name` (its operationId in snake case), whatever tag
    it is filed under."""
    api = importlib.import_module(f"{PACKAGE}.api")
    for tag in pkgutil.iter_modules(api.__path__):
        try:
            return importlib.import_module(f"{PACKAGE}.api.{tag.name}.{name}")
        except ModuleNotFoundError:
            continue
    raise RuntimeError(f"the generated client has no operation {name}")


def expect_eq(actual, expected, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")


def step(name: str, f):
    started = time.perf_counter()
    value = f()
    print(f"{name} ({time.perf_counter() - started:.3f}s)", flush=True)
    return value


def roundtrip(base_url: str, namespace: str, prefix: str) -> None:
    import httpx

    client_module = importlib.import_module(f"{PACKAGE}.client")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_module.Client(
        base_url=base_url, timeout=httpx.Timeout(30.0), raise_on_unexpected_status=True
    )
    activity_id = f"{prefix}-activity-{uuid.uuid4().hex}"
    task_queue = f"{prefix}-queue-{uuid.uuid4().hex}"
    deadline = time.monotonic() + DEADLINE

    def ok(what: str, reply, model):
        """The answer parsed as `model`; raises with the API error otherwise."""
        if reply.status_code != 200 or not isinstance(reply.parsed, model):
            raise RuntimeError(f"{what}: HTTP {int(reply.status_code)} {reply.content!r}")
        return reply.parsed

    start = operation("start_activity_execution")
    started = step("start", lambda: ok("start", start.sync_detailed(
        namespace, activity_id, client=client,
        body=models.StartActivityExecutionRequest.from_dict({
            "activityType": {"name": "GeneratedClientActivity"},
            "taskQueue": {"name": task_queue},
            "input": INPUT,
            "startToCloseTimeout": "30s",
            "requestId": uuid.uuid4().hex,
        }),
    ), models.StartActivityExecutionResponse))
    if not started.run_id:
        raise AssertionError(f"start: no runId in {started.to_dict()}")
    expect_eq(started.started, True, "started")

    poll = operation("poll_activity_task_queue")
    poll_body = models.PollActivityTaskQueueRequest.from_dict(
        {"taskQueue": {"name": task_queue}, "identity": "generated-python-worker"}
    )

    def take_task():
        # A long poll answers `{}` when nothing came in time: poll again.
        while True:
            polled = ok("poll", poll.sync_detailed(
                namespace, client=client, body=poll_body, grpc_timeout="10S"
            ), models.PollActivityTaskQueueResponse)
            if polled.task_token:
                return polled
            if time.monotonic() > deadline:
                raise AssertionError("poll: no task came")

    task = step("poll", take_task)
    wire = task.to_dict()
    expect_eq(wire.get("activityId"), activity_id, "task's activityId")
    expect_eq(wire.get("activityType"), {"name": "GeneratedClientActivity"}, "task's activityType")
    expect_eq(wire.get("attempt"), 1, "task's attempt")
    expect_eq(wire.get("input"), INPUT, "task's input")

    complete = operation("respond_activity_task_completed")
    step("complete", lambda: ok("complete", complete.sync_detailed(
        namespace, client=client,
        body=models.RespondActivityTaskCompletedRequest.from_dict({
            "taskToken": task.task_token,
            "result": RESULT,
            "identity": "generated-python-worker",
        }),
    ), object))

    outcome_of = operation("poll_activity_execution")

    def wait_outcome():
        while True:
            polled = ok("outcome", outcome_of.sync_detailed(
                namespace, activity_id, client=client, run_id=started.run_id, grpc_timeout="10S"
            ), models.PollActivityExecutionResponse)
            if polled.to_dict().get("outcome"):
                return polled
            if time.monotonic() > deadline:
                raise AssertionError("outcome: the activity did not close")

    outcome = step("outcome", wait_outcome).to_dict()
    expect_eq(outcome.get("runId"), started.run_id, "outcome's runId")
    expect_eq(outcome["outcome"].get("failure"), None, "outcome's failure")
    expect_eq(outcome["outcome"].get("result"), RESULT, "outcome's result")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:7243")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--prefix", default="py")
    args = parser.parse_args()
    began = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="waymark-python-client-") as tmp:
            step("generate", lambda: generate(Path(tmp)))
            sys.path.insert(0, tmp)
            step("import", lambda: importlib.import_module(PACKAGE))
            roundtrip(args.base_url, args.namespace, args.prefix)
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        print(f"FAIL roundtrip: {e}", flush=True)
        import traceback
        traceback.print_exc()
        return 1
    print(f"PASS roundtrip ({time.perf_counter() - began:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
