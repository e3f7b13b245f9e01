#!/usr/bin/env python3
"""A Waymark worker in plain Python (standard library only), over the HTTP API.

    python3 examples/python-worker/worker.py --url http://127.0.0.1:7243 --task-queue simple

Serves SimpleActivity like the Rust SDK's example: heartbeats "processing", then answers
"Processed: " + value. An exception fails the attempt (type = the exception's class); an
unregistered activity type fails with ActivityNotRegistered; a heartbeat answer that says
cancelRequested reports the activity cancelled.
"""
import argparse, base64, json, os, socket, sys, time, urllib.error, urllib.request


class Cancelled(Exception):
    pass


class ActivityNotRegistered(Exception):
    pass


class Worker:
    def __init__(self, url, namespace, task_queue):
        self.base = f"{url.rstrip('/')}/api/v1/namespaces/{namespace}"
        self.queue, self.identity = task_queue, f"{os.getpid()}@{socket.gethostname()}"

    def call(self, path, body, wait=None):
        req = urllib.request.Request(self.base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        if wait:
            req.add_header("Grpc-Timeout", f"{wait}S")  # long poll: the server answers {} at wait - 1 s
        with urllib.request.urlopen(req, timeout=(wait or 0) + 10) as resp:
            return json.load(resp)

    def heartbeat(self, token, *details):
        if self.call("/activity-heartbeat", {"taskToken": token, "details": list(details), "identity": self.identity}).get("cancelRequested"):
            raise Cancelled()

    def run(self, activities):
        while True:
            try:
                task = self.call("/activity-tasks/poll", {"taskQueue": {"name": self.queue}, "identity": self.identity}, wait=30)
            except (urllib.error.URLError, OSError) as e:  # server restarting: try again shortly
                print(f"poll failed: {e}", file=sys.stderr)
                time.sleep(1)
                continue
            if "taskToken" in task:
                self.execute(task, activities)

    def execute(self, task, activities):
        token, name = task["taskToken"], task["activityType"]["name"]
        reply = {"taskToken": token, "identity": self.identity}
        try:
            if name not in activities:
                raise ActivityNotRegistered(f"activity type {json.dumps(name)} is not registered on the worker of task queue {json.dumps(self.queue)}; registered types: {', '.join(sorted(activities))}")
            result = activities[name](lambda *d: self.heartbeat(token, *d), *payloads(task.get("input")))
            self.call("/activity-complete", {**reply, "result": [result]})
        except Cancelled:
            self.call("/activity-resolve-as-canceled", reply)
        except Exception as e:  # any error fails this attempt; the server retries per the policy
            failure = {"message": str(e), "source": "python-worker", "applicationFailureInfo": {"type": type(e).__name__}}
            self.call("/activity-fail", {**reply, "failure": failure})


def payloads(p):
    """Temporal's payload shorthand: bare JSON values; raw json/plain and binary/null objects."""
    items = p.get("payloads", []) if isinstance(p, dict) else (p or [])
    out = []
    for item in items:
        meta = item.get("metadata") if isinstance(item, dict) else None
        if isinstance(meta, dict) and "encoding" in meta:
            encoding = base64.b64decode(meta["encoding"]).decode()
            out.append(json.loads(base64.b64decode(item["data"])) if encoding == "json/plain" else None)
        else:
            out.append(item)
    return out


def simple_activity(heartbeat, value):
    heartbeat("processing")
    if not isinstance(value, str):
        raise TypeError(f"SimpleActivity takes a string, got {type(value).__name__}")
    return "Processed: " + value


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--url", default="http://127.0.0.1:7243")
    args.add_argument("--namespace", default="default")
    args.add_argument("--task-queue", required=True)
    a = args.parse_args()
    print(f"python worker of task queue {a.task_queue} at {a.url}", flush=True)
    try:
        Worker(a.url, a.namespace, a.task_queue).run({"SimpleActivity": simple_activity})
    except KeyboardInterrupt:
        pass
