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
import traceback
import uuid
from contextlib import contextmanager
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
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none"]
    command += ["--path", str(SPEC), "--output-path", str(into / PACKAGE)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"openapi-python-client failed:\n{out.stdout}\n{out.stderr}")
    # It warns on stderr of each schema it could not use (and dropped); this round trip does
    # not need them, but they are worth seeing.
    dropped = [
        line for line in out.stderr.splitlines() if line.startswith("Unable to process schema")
    ]
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


@contextmanager
def step(name: str):
    """Prints `name (<seconds>s)` once the block ran."""
    started = time.perf_counter()
    yield
    print(f"{name} ({time.perf_counter() - started:.3f}s)", flush=True)


def roundtrip(base_url: str, namespace: str, prefix: str) -> None:
    import httpx

    models = importlib.import_module(f"{PACKAGE}.models")
    client = importlib.import_module(f"{PACKAGE}.client").Client(
        base_url=base_url, timeout=httpx.Timeout(30.0), raise_on_unexpected_status=True
    )
    start = operation("start_activity_execution")
    poll = operation("poll_activity_task_queue")
    complete = operation("respond_activity_task_completed")
    poll_outcome = operation("poll_activity_execution")
    activity_id = f"{prefix}-activity-{uuid.uuid4().hex}"
    task_queue = f"{prefix}-queue-{uuid.uuid4().hex}"
    deadline = time.monotonic() + DEADLINE

    def ok(what: str, reply, model):
        """The answer parsed as `model`; raises with the API error otherwise."""
        if reply.status_code != 200 or not isinstance(reply.parsed, model):
            raise RuntimeError(f"{what}: HTTP {int(reply.status_code)} {reply.content!r}")
        return reply.parsed

    with step("start"):
        body = models.StartActivityExecutionRequest.from_dict(
            {
                "activityType": {"name": "GeneratedClientActivity"},
                "taskQueue": {"name": task_queue},
                "input": INPUT,
                "startToCloseTimeout": "30s",
                "requestId": uuid.uuid4().hex,
            }
        )
        reply = start.sync_detailed(namespace, activity_id, client=client, body=body)
        started = ok("start", reply, models.StartActivityExecutionResponse)
    if not started.run_id:
        raise AssertionError(f"start: no runId in {started.to_dict()}")
    expect_eq(started.started, True, "started")

    with step("poll"):
        body = models.PollActivityTaskQueueRequest.from_dict(
            {"taskQueue": {"name": task_queue}, "identity": "generated-python-worker"}
        )
        # A long poll answers `{}` when nothing came in time: poll again.
        while True:
            reply = poll.sync_detailed(namespace, client=client, body=body, grpc_timeout="10S")
            task = ok("poll", reply, models.PollActivityTaskQueueResponse)
            if task.task_token:
                break
            if time.monotonic() > deadline:
                raise AssertionError("poll: no task came")
    wire = task.to_dict()
    expect_eq(wire.get("activityId"), activity_id, "task's activityId")
    expect_eq(wire.get("activityType"), {"name": "GeneratedClientActivity"}, "task's activityType")
    expect_eq(wire.get("attempt"), 1, "task's attempt")
    expect_eq(wire.get("input"), INPUT, "task's input")

    with step("complete"):
        body = models.RespondActivityTaskCompletedRequest.from_dict(
            {"taskToken": task.task_token, "result": RESULT, "identity": "generated-python-worker"}
        )
        reply = complete.sync_detailed(namespace, client=client, body=body)
        if reply.status_code != 200:
            raise RuntimeError(f"complete: HTTP {int(reply.status_code)} {reply.content!r}")

    with step("outcome"):
        while True:
            reply = poll_outcome.sync_detailed(
                namespace, activity_id, client=client, run_id=started.run_id, grpc_timeout="10S"
            )
            outcome = ok("outcome", reply, models.PollActivityExecutionResponse).to_dict()
            if outcome.get("outcome"):
                break
            if time.monotonic() > deadline:
                raise AssertionError("outcome: the activity did not close")
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
            with step("generate"):
                generate(Path(tmp))
            sys.path.insert(0, tmp)
            with step("import"):
                importlib.import_module(PACKAGE)
            roundtrip(args.base_url, args.namespace, args.prefix)
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        print(f"FAIL roundtrip: {e}", flush=True)
        traceback.print_exc()
        return 1
    print(f"PASS roundtrip ({time.perf_counter() - began:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
