"""What happened in a run, as a stream of events: the story `raincheck run` tells and its report plots.

Events come from what the rig already sees, nothing is added to the harness or the Lambdas:

- `reading`: a message on the readings topic from a thing (a router tap), with the core's CPU temperature
  when it was published;
- `compensated`: an accepted local shadow update that reports a temperature (the republish Lambda's
  write), with the shadow version it made;
- `prediction`: an accepted local shadow update that reports `rain_prediction` (the inference Lambda's
  write). The probability and threshold are not in the shadow: they come from the inference Lambda's log
  line `rain_prediction=0 (p=0.101, threshold 0.257953) for [...]`, which it writes right after the
  update; the n-th such line belongs to the n-th accepted prediction. A prediction event is emitted when
  its log line has been read (or, without one, at the end of the run, with `p` None);
- `sync`: the shadow sync wrote the cloud shadow (`to: cloud`, with the cloud version) or, carrying the
  sync's client token, the local one (`to: device`);
- `rejected`: a local shadow update the shadow service refused;
- `error`: an ERROR line in a function's log;
- `dropped`: messages the router dropped (no subscription), counted since the previous event;
- `fault`: a fault injected (`raincheck run --fault`, app/faults.py): its name, arguments and effect.

Times are seconds on the core's clock since the stream was attached (simulated time in fast mode).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

KINDS = ("reading", "compensated", "prediction", "sync", "rejected", "error", "dropped", "fault")
SYNC_TOKEN = (
    "raincheck-shadow-sync"  # the shadow sync's clientToken on its local writes (harness/cloud/sync.py)
)
_PREDICTION = re.compile(r"rain_prediction=(\d+) \(p=([-+\d.eE]+|nan), threshold ([-+\d.eE]+)\)")
_LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\dT[\d:.]+Z)\]\[(\w+)\]-(.*)$")


@dataclass
class Event:
    kind: str
    t: float  # seconds on the core's clock since the stream started
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "t": round(self.t, 3), **self.data}


def format_event(event: Event) -> str:
    """One readable line for an event."""
    d = event.data
    head = f"{_clock(event.t):>9}  {event.kind:<13}"
    if event.kind == "reading":
        if d.get("temperature") is None:
            body = f"#{d.get('sequence')}  sensor read failed ({d.get('message')})"
        else:
            body = (
                f"#{d.get('sequence')}  T {d['temperature']:.2f} °C  RH {d['humidity']:.1f} %  "
                f"P {d['pressure']:.2f} hPa"
            )
        if d.get("cpu_temperature") is not None:
            body += f"  (CPU {d['cpu_temperature']:.1f} °C)"
    elif event.kind == "compensated":
        if d.get("temperature") is None:
            body = f"{d.get('message') or 'no temperature'} -> local shadow v{d.get('version')}"
        else:
            body = f"T {d['temperature']:.2f} °C -> local shadow v{d.get('version')}"
    elif event.kind == "prediction":
        p, threshold = d.get("probability"), d.get("threshold")
        if p is None:
            body = f"rain_prediction={d.get('rain_prediction')}"
        else:
            side = ">=" if threshold is not None and p >= threshold else "<"
            body = f"p={p:.3f} {side} threshold {threshold:g} -> rain_prediction={d.get('rain_prediction')}"
        body += f" (local shadow v{d.get('version')})"
    elif event.kind == "sync":
        keys = ", ".join(d.get("keys") or []) or "no keys"
        if d.get("to") == "cloud":
            body = f"local -> cloud shadow v{d.get('version')} ({keys})"
        else:
            body = f"cloud -> local shadow v{d.get('version')} ({keys})"
    elif event.kind == "rejected":
        body = f"{d.get('topic')}: {d.get('code')} {d.get('message')}"
    elif event.kind == "error":
        body = f"{d.get('function')}: {d.get('message')}"
    elif event.kind == "dropped":
        body = f"{d.get('count')} message(s) without a subscription: {d.get('routes')}"
    elif event.kind == "fault":
        body = f"{d.get('name')}: {d.get('effect')}"
    else:
        body = json.dumps(d, sort_keys=True, default=str)
    return head + body


def _clock(seconds: float) -> str:
    """+12.0s, +1:02:03 for an hour and more."""
    seconds = max(seconds, 0.0)  # a log line's millisecond stamp can fall just before the start
    if seconds < 3600:
        return f"+{seconds:.1f}s"
    whole = int(seconds)
    return f"+{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class EventStream:
    """Events in the order they were seen, counted by kind, each handed to the sinks as it comes."""

    def __init__(self, sinks: Iterable[Callable[[Event], None]] = (), keep: bool = True) -> None:
        self.sinks = list(sinks)
        self.keep = keep
        self.events: list[Event] = []
        self.counts: Counter[str] = Counter()
        self.threshold: float | None = None  # the inference Lambda's, from its log
        self.expected_readings: int | None = None  # set by run_pipeline before the first reading
        self._lock = threading.RLock()

    def emit(self, kind: str, t: float, **data: Any) -> Event:
        event = Event(kind, t, data)
        with self._lock:
            self.counts[kind] += event.data.get("count", 1) if kind == "dropped" else 1
            if kind == "reading" and data.get("temperature") is None:
                self.counts["failed_readings"] += 1
            if kind == "prediction" and data.get("rain_prediction") == 1:
                self.counts["rain_predictions"] += 1
            if self.keep:
                self.events.append(event)
            for sink in self.sinks:
                sink(event)
        return event

    def of(self, kind: str) -> list[Event]:
        return [event for event in self.events if event.kind == kind]

    def count_summary(self) -> dict[str, int]:
        """Counts of every kind (zeros included), plus failed_readings and rain_predictions."""
        names = (*KINDS, "failed_readings", "rain_predictions")
        return {name: self.counts.get(name, 0) for name in names}


class RigObserver:
    """Feeds an EventStream from a started rig: taps on the core's router, the shadow sync's cloud
    writes, and the functions' logs (read as they grow, at each event and at `finish`)."""

    def __init__(
        self, rig: Any, thing: str, stream: EventStream, readings_topic: str = "bme680/readings"
    ) -> None:
        self.rig = rig
        self.thing = thing
        self.stream = stream
        self.t0 = rig.clock.time()
        self._lock = threading.RLock()
        self._pending: list[tuple[float, dict]] = []  # accepted predictions waiting for their log line
        self._logs: dict[str, Path] = {}  # function -> its log
        self._open: dict[str, Any] = {}  # function -> its log, open for reading on from where it was
        self._partial: dict[str, str] = {}
        self.done = False
        self._dropped = rig.core.router.dropped
        self._dropped_routes = dict(rig.core.router.dropped_by_route)
        for name in rig.functions:
            self._logs[name] = rig.core.function_log_path(name)
        router = rig.core.router
        router.tap(readings_topic, self._on_reading)
        router.tap(f"$aws/things/{thing}/shadow/update/accepted", self._on_accepted)
        router.tap(f"$aws/things/{thing}/shadow/update/rejected", self._on_rejected)
        sync = getattr(rig, "sync", None)
        if sync is not None and getattr(sync, "cloud", None) is not None:
            sync.cloud = _ObservedCloud(sync.cloud, self._on_cloud_update)

    def now(self) -> float:
        return self.rig.clock.time() - self.t0

    # -- sources -----------------------------------------------------------------------------------
    def _on_reading(self, source: str, topic: str, payload: bytes) -> None:
        if not source.startswith("thing:"):
            return
        message = _json(payload)
        with self._lock:
            if self.done:
                return
            self._poll()
            cpu = getattr(getattr(self.rig.core, "cpu_temperature", None), "celsius", None)
            self.stream.emit(
                "reading",
                self.now(),
                thing=source.split(":", 1)[1],
                sequence=message.get("sequence"),
                temperature=message.get("temperature"),
                pressure=message.get("pressure"),
                humidity=message.get("humidity"),
                message=message.get("message"),
                cpu_temperature=cpu,
            )

    def _on_accepted(self, source: str, topic: str, payload: bytes) -> None:
        document = _json(payload)
        reported = (document.get("state") or {}).get("reported") or {}
        version = document.get("version")
        with self._lock:
            if self.done:
                return
            self._poll()
            if document.get("clientToken") == SYNC_TOKEN:
                self.stream.emit("sync", self.now(), to="device", version=version, keys=sorted(reported))
                return
            if "temperature" in reported:
                self.stream.emit(
                    "compensated",
                    self.now(),
                    version=version,
                    temperature=reported.get("temperature"),
                    pressure=reported.get("pressure"),
                    humidity=reported.get("humidity"),
                    message=reported.get("message"),
                )
            if "rain_prediction" in reported:
                self._pending.append(
                    (self.now(), {"version": version, "rain_prediction": reported["rain_prediction"]})
                )
                self._poll()  # its log line may be there already

    def _on_rejected(self, source: str, topic: str, payload: bytes) -> None:
        error = _json(payload)
        with self._lock:
            if self.done:
                return
            self._poll()
            self.stream.emit(
                "rejected", self.now(), topic=topic, code=error.get("code"), message=error.get("message")
            )

    def _on_cloud_update(self, thing: str, document: dict, accepted: Any) -> None:
        reported = ((document or {}).get("state") or {}).get("reported") or {}
        desired = ((document or {}).get("state") or {}).get("desired") or {}
        version = accepted.get("version") if isinstance(accepted, dict) else None
        with self._lock:
            if self.done:
                return
            self._poll()
            self.stream.emit(
                "sync",
                self.now(),
                to="cloud",
                thing=thing,
                version=version,
                keys=sorted({*reported, *desired}),
            )

    # -- logs and counters -------------------------------------------------------------------------
    def _poll(self) -> None:
        """New log lines of every function; messages the router dropped since the last look."""
        for name, path in self._logs.items():
            try:
                if name not in self._open:
                    self._open[name] = path.open("rb")  # once it exists; read on from there each time
                chunk = self._open[name].read()
            except OSError:
                continue
            if not chunk:
                continue
            text = self._partial.pop(name, "") + chunk.decode("utf-8", "replace")
            lines = text.split("\n")
            if lines[-1]:
                self._partial[name] = lines[-1]  # a line still being written
            for line in lines[:-1]:
                self._on_log_line(name, line)
        router = self.rig.core.router
        if router.dropped != self._dropped:
            count = router.dropped - self._dropped
            routes = {
                f"{source} on {topic}": n - self._dropped_routes.get((source, topic), 0)
                for (source, topic), n in router.dropped_by_route.items()
                if n != self._dropped_routes.get((source, topic), 0)
            }
            self._dropped, self._dropped_routes = router.dropped, dict(router.dropped_by_route)
            self.stream.emit("dropped", self.now(), count=count, routes=routes)

    def _on_log_line(self, function: str, line: str) -> None:
        match = _LOG_LINE.match(line)
        if match is None:
            return
        stamp, level, message = match.groups()
        message = message.split(",", 1)[1] if re.match(r"^[\w.]+:\d+,", message) else message
        if level in ("ERROR", "CRITICAL"):
            self.stream.emit("error", self._log_time(stamp), function=function, message=message.strip())
            return
        found = _PREDICTION.search(message)
        if found is None:
            return
        label, p, threshold = int(found.group(1)), float(found.group(2)), float(found.group(3))
        self.stream.threshold = threshold
        if self._pending:
            t, data = self._pending.pop(0)
            if data["rain_prediction"] != label:  # not this update's line: keep its own, without p
                self.stream.emit("prediction", t, probability=None, threshold=None, **data)
                return
            self.stream.emit("prediction", t, probability=p, threshold=threshold, **data)

    def _log_time(self, stamp: str) -> float:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - self.t0
        except ValueError:
            return self.now()

    def finish(self) -> None:
        """Read what the logs still hold; predictions without a log line are emitted without p."""
        with self._lock:
            if self.done:
                return
            self._poll()
            for t, data in self._pending:
                self.stream.emit("prediction", t, probability=None, threshold=None, **data)
            self._pending.clear()
            for handle in self._open.values():
                handle.close()
            self._open.clear()
            self.done = True  # what the rig does while it stops is not the run's


class _ObservedCloud:
    """The cloud as the shadow sync sees it, with each accepted update reported to `on_update`."""

    def __init__(self, cloud: Any, on_update: Callable[[str, dict, Any], None]) -> None:
        self._cloud = cloud
        self._on_update = on_update

    def update_shadow(self, thing: str, document: dict) -> Any:
        accepted = self._cloud.update_shadow(thing, document)
        self._on_update(thing, document, accepted)
        return accepted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cloud, name)


def _json(payload: bytes) -> dict:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


EVENT_LINES_MAX = 100  # --show auto: event lines up to this many readings, a progress bar beyond


class Console:
    """What a run shows on stderr as it goes: `events` (one line per event), `progress` (a bar of readings,
    simulated time and rate, redrawn in place), `quiet`, or `auto`: event lines for short runs (up to
    EVENT_LINES_MAX readings), the bar for longer ones when `out` is a terminal, nothing when it is not."""

    def __init__(self, show: str, stream: EventStream, out: TextIO) -> None:
        if show not in ("auto", "events", "progress", "quiet"):
            raise ValueError(f"unknown display {show!r}")
        self.show = show
        self.stream = stream
        self.out = out
        self.bar: ProgressBar | None = None
        self._errors_seen: set[tuple[str, str]] = set()
        stream.sinks.append(self)

    def _decide(self) -> str:
        if self.show != "auto":
            return self.show
        expected = self.stream.expected_readings
        if expected is not None and expected <= EVENT_LINES_MAX:
            return "events"
        return "progress" if _isatty(self.out) else "quiet"

    def __call__(self, event: Event) -> None:
        if self.show == "auto" or (self.show == "progress" and self.bar is None):
            self.show = self._decide()
            if self.show == "progress":
                self.bar = ProgressBar(self.out, self.stream.expected_readings)
        if self.show == "events":
            if event.kind == "error":  # a retry loop logs the same error each time: shown once
                key = (str(event.data.get("function")), str(event.data.get("message")))
                if key in self._errors_seen:
                    return
                self._errors_seen.add(key)
                print(format_event(event) + "  (shown once)", file=self.out, flush=True)
                return
            print(format_event(event), file=self.out, flush=True)
        elif self.bar is not None:
            self.bar(event)

    def line(self, text: str) -> None:
        """A line of the run's own (setup, totals): ends the bar's line first."""
        if self.bar is not None:
            self.bar.close()
        print(text, file=self.out, flush=True)


class ProgressBar:
    """`[#####.....]  4,321/8,640 readings  12:00:10 simulated  4,900x real time` on one line of a
    terminal, redrawn at most every `interval_s` of wall time."""

    def __init__(self, out: TextIO, total: int | None, width: int = 28, interval_s: float = 0.2) -> None:
        self.out = out
        self.total = total
        self.width = width
        self.interval_s = interval_s
        self.readings = 0
        self.simulated_s = 0.0
        self.started = time.monotonic()
        self._drawn = 0.0
        self.closed = False

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        self.simulated_s = max(self.simulated_s, event.t)
        if event.kind == "reading":
            self.readings += 1
            now = time.monotonic()
            if now - self._drawn >= self.interval_s or self.readings == self.total:
                self._drawn = now
                self.draw()

    def text(self) -> str:
        wall = time.monotonic() - self.started
        if self.total:
            done = min(1.0, self.readings / self.total)
            filled = int(done * self.width)
            bar = "[" + "#" * filled + "." * (self.width - filled) + "] "
            count = f"{self.readings:,}/{self.total:,} readings"
        else:
            bar, count = "", f"{self.readings:,} readings"
        whole = int(self.simulated_s)
        simulated = f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d} simulated"
        rate = f"{self.simulated_s / wall:,.0f}x real time" if wall > 0 else ""
        return f"{bar}{count}  {simulated}  {rate}"

    def draw(self) -> None:
        self.out.write("\r" + self.text() + "\x1b[K")
        self.out.flush()

    def close(self) -> None:
        if not self.closed:
            self.draw()
            self.out.write("\n")
            self.out.flush()
            self.closed = True


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
