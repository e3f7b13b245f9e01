#!/usr/bin/env python3
"""Temporal's Python SDK against Temporal's dev server and against Waymark, side by side.

For each server the script starts it, warms it up, measures, and stops it before
starting the next one (never both at once). One process hosts one Worker (workflows
and activities on one fresh task queue, the SDK's default slots and pollers) and a
client that starts every workflow at once and awaits each result. Each workflow runs
`--activities` sequential no-op activities.

    python3 bench/temporal_sdk_bench.py [--workflows 200] [--activities 10]
        [--only temporal|waymark] [--waymark PATH] [--temporal PATH] [--json]

Server CPU and RSS cover the server's process and its descendants; "SDK CPU" is this
process (worker, client and the RSS sampler), to tell which side is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WARMUP_WORKFLOWS = 10
START_CONCURRENCY = 50  # start_workflow calls in flight; every started workflow runs
RSS_SAMPLE_S = 0.05
RUN_TIMEOUT_S = 600  # a server that loses a workflow fails the run instead of hanging it
CLK_TCK = os.sysconf("SC_CLK_TCK")


@activity.defn
async def noop(i: int) -> int:
    return i


@workflow.defn
class Chain:
    @workflow.run
    async def run(self, activities: int) -> int:
        total = 0
        for i in range(activities):
            total += await workflow.execute_activity(
                noop, i, start_to_close_timeout=timedelta(seconds=10)
            )
        return total


# --- Server processes ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(root: int) -> list[int]:
    """`root` and its live descendants (e.g. under a launcher that forks)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of `pids` (each covers all of the process's threads)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return ticks / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    kb = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb += next((int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:")), 0)
    return kb / 1024


class RssSampler(threading.Thread):
    """Peak RSS of `pids`, sampled every RSS_SAMPLE_S until stop()."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.done = pids, rss_mb(pids), threading.Event()

    def run(self) -> None:
        while not self.done.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, rss_mb(self.pids))

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, rss_mb(self.pids))


def start_temporal(cli: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
           "--http-port", str(free_port()), "--metrics-port", str(free_port()),
           "--log-level", "error"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL), f"127.0.0.1:{port}"


def start_waymark(binary: str) -> tuple[subprocess.Popen, str]:
    cmd = [binary, "start-dev", "--port", "0", "--grpc-port", "0", "--log", "warn"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    prefix = "Waymark gRPC API on "
    for line in proc.stdout:
        if line.startswith(prefix):
            # Keep draining stdout so the server never blocks on a full pipe.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, line[len(prefix):].strip()
    raise RuntimeError(f"{binary} exited ({proc.wait()}) before printing {prefix!r}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def connect(proc: subprocess.Popen, address: str, timeout: float = 60) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address)
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# --- Workload ------------------------------------------------------------------


async def run_workflows(
    client: Client, queue: str, prefix: str, count: int, activities: int
) -> list[float]:
    """Start `count` workflows at once; each one's seconds from start to result."""
    starting = asyncio.Semaphore(START_CONCURRENCY)

    async def one(i: int) -> float:
        async with starting:
            began = time.perf_counter()
            handle = await client.start_workflow(
                Chain.run, activities, id=f"{prefix}-{i}", task_queue=queue
            )
        result = await handle.result()
        assert result == activities * (activities - 1) // 2, f"{handle.id} returned {result}"
        return time.perf_counter() - began

    return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), RUN_TIMEOUT_S)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def bench(name: str, proc: subprocess.Popen, address: str, args) -> dict:
    client = await connect(proc, address)
    queue = f"sdk-bench-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[Chain], activities=[noop]):
        await run_workflows(client, queue, f"{queue}-warmup", WARMUP_WORKFLOWS, args.activities)
        pids = process_tree(proc.pid)
        idle_rss = rss_mb(pids)
        sampler = RssSampler(pids)
        sampler.start()
        cpu0, sdk0, t0 = cpu_seconds(pids), time.process_time(), time.perf_counter()
        latencies = await run_workflows(client, queue, queue, args.workflows, args.activities)
        wall = time.perf_counter() - t0
        server_cpu, sdk_cpu = cpu_seconds(pids) - cpu0, time.process_time() - sdk0
        peak_rss = sampler.stop()
    latencies.sort()
    return {
        "server": name,
        "workflows": args.workflows,
        "activities_per_workflow": args.activities,
        "wall_s": round(wall, 3),
        "workflows_per_s": round(args.workflows / wall, 1),
        "activities_per_s": round(args.workflows * args.activities / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_workflow": round(server_cpu * 1000 / args.workflows, 2),
        "server_rss_idle_mb": round(idle_rss, 1),
        "server_rss_peak_mb": round(peak_rss, 1),
        "sdk_cpu_s": round(sdk_cpu, 2),
    }


ROWS = [
    ("wall time (s)", "wall_s"),
    ("workflows/s", "workflows_per_s"),
    ("activities/s", "activities_per_s"),
    ("workflow p50 (ms)", "p50_ms"),
    ("workflow p99 (ms)", "p99_ms"),
    ("server CPU (s)", "server_cpu_s"),
    ("server CPU/workflow (ms)", "server_cpu_ms_per_workflow"),
    ("server RSS idle (MB)", "server_rss_idle_mb"),
    ("server RSS peak (MB)", "server_rss_peak_mb"),
    ("SDK process CPU (s)", "sdk_cpu_s"),
]


def print_table(results: list[dict]) -> None:
    first = results[0]
    print(f"\n{first['workflows']} workflows x {first['activities_per_workflow']} activities")
    print(f"{'':26}" + "".join(f"{r['server']:>12}" for r in results))
    for label, key in ROWS:
        print(f"{label:26}" + "".join(f"{r[key]:>12}" for r in results))


async def main() -> None:
    default_waymark = next(
        (p for p in ("target/release/waymark", "target/debug/waymark") if Path(p).exists()),
        "target/release/waymark",
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--activities", type=int, default=10)
    parser.add_argument("--only", choices=["temporal", "waymark"])
    parser.add_argument("--waymark", default=default_waymark, help="Waymark binary")
    parser.add_argument("--temporal", default="temporal", help="Temporal CLI")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()

    servers = {
        "temporal": lambda: start_temporal(args.temporal),
        "waymark": lambda: start_waymark(args.waymark),
    }
    results = []
    for name, start in servers.items():
        if args.only not in (None, name):
            continue
        print(f"{name}: starting", file=sys.stderr)
        proc, address = start()
        try:
            results.append(await bench(name, proc, address, args))
        finally:
            stop(proc)
    print_table(results)
    if args.json:
        print(json.dumps({r["server"]: r for r in results}))


if __name__ == "__main__":
    asyncio.run(main())
