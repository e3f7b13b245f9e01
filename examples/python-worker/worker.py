#!/usr/bin/env python3
"""A Waymark worker in plain Python (standard library only), over the HTTP API.

    python3 examples/python-worker/worker.py --url http://127.0.0.1:7243 --task-queue simple

With keys required (`waymark serve`, `start-dev --auth`), give a worker key of the namespace in
WAYMARK_API_KEY (or --api-key); it is sent as `Authorization: Bearer <key>`.

Serves SimpleActivity like the Rust SDK's example: heartbeats "processing", then answers
"Processed: " + value. An exception fails the attempt (its class is the failure type), an
unregistered type fails with ActivityNotRegistered, and a heartbeat answer saying
cancelRequested reports the activity cancelled.
"""
import argparse, base64, json, os, socket, sys, time, urllib.error, urllib.request


class Cancelled(Exception): pass
class ActivityNotRegistered(Exception): pass


class Worker:
    def __init__(self, url, namespace, task_queue, activities, api_key=None):
        self.base = f"{url.rstrip('/')}/api/v1/namespaces/{namespace}"
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self.queue, self.activities, self.identity = task_queue, activities, f"{os.getpid()}@{socket.gethostname()}"

    def call(self, path, body, wait=None):
        req = urllib.request.Request(self.base + path, json.dumps(body).encode(), self.headers)
        if wait:
            req.add_header("Grpc-Timeout", f"{wait}S")  # long poll: the server answers {} 1 s before it
        with urllib.request.urlopen(req, timeout=(wait or 0) + 10) as resp:
            return json.load(resp)

    def heartbeat(self, token, *details):
        if self.call("/activity-heartbeat", {"taskToken": token, "details": list(details), "identity": self.identity}).get("cancelRequested"):
            raise Cancelled()

    def run(self):
        while True:
            try:
                task = self.call("/activity-tasks/poll", {"taskQueue": {"name": self.queue}, "identity": self.identity}, wait=30)
            except (urllib.error.URLError, OSError) as e:  # server unreachable or refusing: try again
                print(f"poll failed: {e}", file=sys.stderr)
                time.sleep(1)
                continue
            if "taskToken" in task:
                self.execute(task)

    def execute(self, task):
        token, name = task["taskToken"], task["activityType"]["name"]
        reply = {"taskToken": token, "identity": self.identity}
        try:
            if name not in self.activities:
                raise ActivityNotRegistered(f"activity type {json.dumps(name)} is not registered on the worker of task queue "
                                            f"{json.dumps(self.queue)}; registered types: {', '.join(sorted(self.activities))}")
            result = self.activities[name](lambda *d: self.heartbeat(token, *d), *payloads(task.get("input")))
            path, body = "/activity-complete", {**reply, "result": [result]}
        except Cancelled:
            path, body = "/activity-resolve-as-canceled", reply
        except Exception as e:  # fails this attempt; the server retries it as its retry policy says
            failure = {"message": str(e), "source": "python-worker", "applicationFailureInfo": {"type": type(e).__name__}}
            path, body = "/activity-fail", {**reply, "failure": failure}
        try:
            self.call(path, body)
        except (urllib.error.URLError, OSError) as e:  # e.g. 404: the attempt already timed out
            print(f"{path} failed: {e}", file=sys.stderr)


def payloads(p):
    """Temporal's payload shorthand: bare JSON values, or raw {metadata, data} (json/plain, binary/null)."""
    items = p.get("payloads", []) if isinstance(p, dict) else (p or [])
    raw = lambda i: isinstance(i, dict) and isinstance(i.get("metadata"), dict) and "encoding" in i["metadata"]
    plain = lambda i: base64.b64decode(i["metadata"]["encoding"]) == b"json/plain"
    return [(json.loads(base64.b64decode(i["data"])) if plain(i) else None) if raw(i) else i for i in items]


def simple_activity(heartbeat, value):
    heartbeat("processing")
    if not isinstance(value, str):
        raise TypeError(f"SimpleActivity takes a string, got {type(value).__name__}")
    return "Processed: " + value


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--url", default="http://127.0.0.1:7243")
    cli.add_argument("--namespace", default="default")
    cli.add_argument("--task-queue", required=True)
    cli.add_argument("--api-key", default=os.environ.get("WAYMARK_API_KEY"), help="default: $WAYMARK_API_KEY")
    args = cli.parse_args()
    print(f"python worker of task queue {args.task_queue} at {args.url}", flush=True)
    try:
        Worker(args.url, args.namespace, args.task_queue, {"SimpleActivity": simple_activity}, args.api_key).run()
    except KeyboardInterrupt:
        pass
