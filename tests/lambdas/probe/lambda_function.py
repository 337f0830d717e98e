"""A probe Lambda for the emulated core's tests: each event field asks it to do one thing and report what
it saw on `probe/out` (and `probe/started` once per container). Deployed as a package of its own, handler
`lambda_function.function_handler`, with the real greengrasssdk."""

import importlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import uuid

import greengrasssdk

client = greengrasssdk.client("iot-data")
logger = logging.getLogger(__name__)
LEAKED = []
INSTANCE = uuid.uuid4().hex  # this container's: in a container the Lambda is pid 1 of its own namespace
client.publish(topic="probe/started", payload=json.dumps({"pid": os.getpid(), "instance": INSTANCE}))


def _outcome(action):
    """'ok', the action's result, or the error it raised as `Type: message`."""
    try:
        result = action()
        return "ok" if result is None else result
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def _import(name):
    importlib.import_module(name)


def _write(path):
    with open(path, "w") as target:
        target.write("written by the probe")


def _read(path):
    with open(path) as source:
        return source.read(4000)


def _credentials():
    import boto3

    found = boto3.session.Session().get_credentials()
    return "none" if found is None else f"found ({found.method})"


def _buckets():
    import boto3

    return sorted(bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"])


def inspect(spec, context):
    """What the Lambda sees of its world: environment, imports, files, credentials."""
    seen = {
        "env": {name: os.environ.get(name) for name in spec.get("env", [])},
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
        },
        "cwd": os.getcwd(),
        "imports": {name: _outcome(lambda n=name: _import(n)) for name in spec.get("imports", [])},
        "write": {path: _outcome(lambda p=path: _write(p)) for path in spec.get("write", [])},
        "read": {
            path: _outcome(lambda p=path: _read(os.path.expandvars(p))) for path in spec.get("read", [])
        },
        "listdir": {path: _outcome(lambda p=path: sorted(os.listdir(p))) for path in spec.get("listdir", [])},
    }
    if spec.get("credentials"):
        seen["credentials"] = _outcome(_credentials)
    if spec.get("s3_buckets"):
        seen["s3_buckets"] = _outcome(_buckets)
    if "secret" in spec:
        secrets = greengrasssdk.client("secretsmanager")
        seen["secret"] = _outcome(lambda: secrets.get_secret_value(SecretId=spec["secret"])["SecretString"])
    if "print" in spec:
        print(spec["print"])
        print(spec["print"] + " on stderr", file=sys.stderr)
        logger.warning("a warning from the probe")
    if "publish_bytes" in spec:
        payload = "x" * spec["publish_bytes"]
        seen["publish"] = _outcome(lambda: client.publish(topic="probe/big", payload=payload) and None)
    return seen


def function_handler(event, context):
    out = {"subject": context.client_context.custom["subject"], "pid": os.getpid(), "instance": INSTANCE}
    if "inspect" in event:
        out["seen"] = inspect(event["inspect"], context)
    if "raise" in event:
        raise ValueError(event["raise"])
    if "sleep" in event:
        out["before"] = time.time()
        time.sleep(event["sleep"])
        out["after"] = time.time()
    if "sleeps" in event:
        out["before"] = time.time()
        out["woke"] = []
        for seconds in event["sleeps"]:
            time.sleep(seconds)
            out["woke"].append(time.time())
    if event.get("waits"):
        flag = threading.Event()
        threading.Thread(target=lambda: (time.sleep(0.5), flag.set())).start()
        start = time.time()
        out["event_set"] = flag.wait(5.0)  # set by the other thread long before the timeout
        out["event_waited"] = time.time() - start
        start = time.time()
        try:
            queue.Queue().get(timeout=0.25)
        except queue.Empty:
            out["queue_waited"] = time.time() - start
        items, got = queue.Queue(), []
        worker = threading.Thread(target=lambda: got.append((items.get(), time.time())))  # untimed
        worker.start()
        start = time.time()
        time.sleep(0.5)
        items.put("item")
        worker.join()
        out["untimed"] = [got[0][0], got[0][1] - start]
    if "hand_offs" in event:  # Event ping-pong, Queue round trips and thread starts, many times over
        ping, pong, rounds = threading.Event(), threading.Event(), event["hand_offs"]

        def ponger():
            for _ in range(rounds):
                ping.wait()
                ping.clear()
                pong.set()

        threading.Thread(target=ponger).start()
        for _ in range(rounds):
            ping.set()
            pong.wait()
            pong.clear()
        requests, replies = queue.Queue(), queue.Queue()
        threading.Thread(target=lambda: [replies.put(requests.get() + 1) for _ in range(rounds)]).start()
        out["queue_sum"] = sum(requests.put(n) or replies.get() for n in range(rounds))
        for _ in range(rounds):
            threading.Thread(target=lambda: None).start()
        out["hand_offs_done"] = True
    if event.get("try_waits"):  # non-blocking tries while another thread keeps running
        done, saw_done = threading.Event(), []

        def spinner():
            deadline = time.perf_counter() + 3.0  # wall time: it runs until told, or gives up
            while time.perf_counter() < deadline:
                if done.is_set():
                    saw_done.append(True)
                    return

        spinning = threading.Thread(target=spinner)
        spinning.start()
        out["tries"] = [threading.Event().wait(0), threading.Semaphore(0).acquire(timeout=0)]
        done.set()
        spinning.join()
        out["spinner_saw_done"] = bool(saw_done)
    if event.get("signal_sets_event"):  # a signal handler notifies while this thread waits on the clock
        flag, returned = threading.Event(), threading.Event()

        def busy():  # keeps the process running, so simulated time waits for the wall-time signal
            deadline = time.perf_counter() + 3.0
            while not returned.is_set() and time.perf_counter() < deadline:
                pass

        threading.Thread(target=busy).start()
        signal.signal(signal.SIGALRM, lambda *_: flag.set())
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        out["signal_set"] = flag.wait()
        returned.set()
    if event.get("crash"):
        os._exit(3)
    if "leak_mb" in event:
        LEAKED.append(bytearray(event["leak_mb"] * 1024 * 1024))
    if event.get("read_sys"):
        try:
            with open("/sys/class/thermal/thermal_zone0/temp") as f:
                out["cpu"] = f.read().strip()
        except OSError as error:
            logger.error("no /sys access: %s", error)
            out["cpu_error"] = type(error).__name__
    if "shadow" in event:
        out["shadow_call_started"] = time.time()
        try:
            client.update_thing_shadow(thingName="sensor", payload=json.dumps(event["shadow"]))
            out["shadow"] = json.loads(client.get_thing_shadow(thingName="sensor")["payload"])["version"]
            out["shadow_call_ended"] = time.time()
        except Exception as error:
            logger.error("shadow call failed: %s", error)
            out["shadow_error"] = str(error)
    client.publish(topic="probe/out", payload=json.dumps(out))
