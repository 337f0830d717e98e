"""`--report DIR`: a run as a folder a browser opens: index.html, one PNG per story line, summary.json.

The plots are matplotlib's (Agg backend, no display needed), the page is a jinja2 template shipped in the
package (app/templates/report.html.j2). Both come with the `report` extra; without it `--report` fails
before the run starts, naming the pip command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raincheck.app.events import EventStream

TEMPLATES = Path(__file__).parent / "templates"
PLOTS = (
    ("readings.png", "Readings over time", "What the sensor published on bme680/readings."),
    (
        "temperature.png",
        "Raw vs compensated temperature",
        "The sensor's temperature, warmed by the Pi's CPU, the CPU temperature the core's sysfs showed "
        "when the reading was published, and what the republish Lambda wrote to the local shadow "
        "(T = 2 T_sensor - T_cpu, CPU averaged over 8 s).",
    ),
    (
        "probability.png",
        "Rain probability and predictions",
        "The inference Lambda's probability (from its log: the shadow holds only the 0/1 prediction), its "
        "threshold, and each rain_prediction it wrote.",
    ),
    (
        "shadow.png",
        "Shadow versions and sync",
        "The local shadow's version after each accepted update, and the cloud shadow's version after each "
        "sync write.",
    ),
    (
        "errors.png",
        "Errors and dropped messages",
        "ERROR lines in the Lambdas' logs, shadow updates the shadow service rejected, and messages the "
        "router dropped for want of a subscription.",
    ),
)


class ReportUnavailable(RuntimeError):
    """The report extra (matplotlib, jinja2) is not installed."""


def check_report_extra() -> None:
    missing = []
    for module in ("matplotlib", "jinja2"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ReportUnavailable(
            f"--report needs {' and '.join(missing)}, which the report extra installs: "
            "pip install 'raincheck[report]'"
        )


def write_report(folder: Path, document: dict[str, Any], stream: EventStream) -> Path:
    """Write index.html, the PNGs and summary.json (the document without its events, plus the plots'
    file names) into `folder`; returns the path of index.html."""
    check_report_extra()
    import jinja2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(folder, stream)
    summary = {key: value for key, value in document.items() if key != "events"}
    summary["plots"] = [name for name, _, _ in PLOTS]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    page = environment.get_template("report.html.j2").render(
        doc=document,
        plots=plots,
        story=_story(document, stream),
        problems=_problems(stream),
        shadows=[
            ("Local shadow (core)", _pretty(document.get("local_shadow"))),
            ("Cloud shadow (moto)", _pretty(document.get("cloud_shadow"))),
        ],
    )
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _pretty(value: Any) -> str:
    """A shadow document with its state and version first, its metadata last."""
    if value is None:
        return "none"
    order = ["state", "version", "timestamp"]
    ordered = {key: value[key] for key in order if key in value}
    ordered.update({key: item for key, item in value.items() if key not in order})
    return json.dumps(ordered, indent=2)


def _story(document: dict[str, Any], stream: EventStream) -> list[str]:
    """The run in a few sentences."""
    counts = document["counts"]
    settings = document.get("settings") or {}
    lines = []
    source = settings.get("backend", "a")
    if settings.get("recording"):
        source = f"the recording {Path(settings['recording']).name}"
    else:
        source = f"the {source} sensor"
    simulated = document.get("simulated_s")
    took = ""
    if simulated and document.get("publish_wall_s"):
        wall, factor = document["publish_wall_s"], document["real_time_factor"]
        took = (
            f" over {_duration(simulated)} of the core's time, published in {wall:.1f} s of wall time "
            f"({factor:,.0f}x real time)"
        )
    lines.append(
        f"{counts['reading']} readings from {source}{took} ({settings.get('mode', '?')} mode, "
        f"{settings.get('runtime', '?')} inference, {settings.get('transport', '?')} transport)."
    )
    if counts["failed_readings"]:
        lines.append(f"{counts['failed_readings']} of them were failed sensor reads (message Fail).")
    lines.append(
        f"The republish Lambda wrote {counts['compensated']} compensated temperatures to the local shadow; "
        f"the inference Lambda wrote {counts['prediction']} predictions, {counts['rain_predictions']} of "
        f"them rain" + (f" (threshold {stream.threshold:g})." if stream.threshold is not None else ".")
    )
    local, cloud = document.get("local_shadow"), document.get("cloud_shadow")
    synced = sum(1 for e in stream.events if e.kind == "sync" and e.data.get("to") == "cloud")
    if local is not None and cloud is not None:
        reported = cloud.get("state", {}).get("reported", {})
        lines.append(
            f"The local shadow ended at version {local.get('version')}; {synced} sync writes took the cloud "
            f"shadow to version {cloud.get('version')}, where rain_prediction is "
            f"{reported.get('rain_prediction')}."
        )
    if document.get("error"):
        lines.append(f"The run failed: {document['error']}")
    problems = counts["error"] + counts["rejected"] + counts["dropped"]
    lines.append(
        "No errors, rejected updates or dropped messages."
        if not problems
        else f"Logged errors: {counts['error']}, rejected shadow updates: {counts['rejected']}, dropped "
        f"messages: {counts['dropped']} (listed below)."
    )
    return lines


def _problems(stream: EventStream, limit: int = 200) -> list[dict[str, str]]:
    from raincheck.app.events import format_event

    rows = [e for e in stream.events if e.kind in ("error", "rejected", "dropped")]
    return [{"kind": e.kind, "line": format_event(e)} for e in rows[:limit]]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _axis(stream: EventStream) -> tuple[float, str]:
    """Divisor and label for the time axis, by the run's length."""
    end = max((e.t for e in stream.events), default=0.0)
    if end <= 600:
        return 1.0, "time on the core's clock (s)"
    if end <= 7200:
        return 60.0, "time on the core's clock (min)"
    return 3600.0, "time on the core's clock (h)"


def _plots(folder: Path, stream: EventStream) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, xlabel = _axis(stream)
    readings = stream.of("reading")
    good = [e for e in readings if e.data.get("temperature") is not None]
    failed = [e for e in readings if e.data.get("temperature") is None]

    def times(events: list) -> list[float]:
        return [e.t / scale for e in events]

    def empty(axis: Any, text: str) -> None:
        axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes, color="#666")

    style = {"linewidth": 1.2, "marker": "o" if len(good) <= 60 else None, "markersize": 3}

    # Readings: temperature, humidity, pressure as published.
    figure, axes = plt.subplots(3, 1, figsize=(10, 6.4), sharex=True)
    for axis, key, label, color in zip(
        axes,
        ("temperature", "humidity", "pressure"),
        ("temperature (°C)", "humidity (%RH)", "pressure (hPa)"),
        ("#d62728", "#1f77b4", "#2ca02c"),
        strict=True,
    ):
        axis.plot(times(good), [e.data[key] for e in good], color=color, **style)
        axis.set_ylabel(label)
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.grid(alpha=0.3)
        for event in failed:
            axis.axvline(event.t / scale, color="#999", linestyle=":", linewidth=1)
    if not good:
        empty(axes[0], "no readings")
    if failed:
        axes[0].plot([], [], color="#999", linestyle=":", label=f"failed read ({len(failed)})")
        axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel(xlabel)
    axes[0].set_title(f"{len(readings)} readings published")
    _save(figure, folder / "readings.png", plt)

    # Raw vs compensated temperature, with the CPU's.
    compensated = [e for e in stream.of("compensated") if e.data.get("temperature") is not None]
    figure, axis = plt.subplots(figsize=(10, 3.6))
    axis.plot(
        times(good), [e.data["temperature"] for e in good], color="#d62728", label="raw (sensor)", **style
    )
    cpu = [e for e in good if e.data.get("cpu_temperature") is not None]
    axis.plot(
        times(cpu), [e.data["cpu_temperature"] for e in cpu], color="#7f7f7f", label="CPU", linestyle="--"
    )
    axis.plot(
        times(compensated),
        [e.data["temperature"] for e in compensated],
        color="#1f77b4",
        label="compensated (local shadow)",
        **style,
    )
    axis.set_ylabel("°C")
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize=8)
    if not good and not compensated:
        empty(axis, "no temperatures")
    _save(figure, folder / "temperature.png", plt)

    # Probability, threshold, predictions.
    predictions = stream.of("prediction")
    known = [e for e in predictions if e.data.get("probability") is not None]
    figure, axis = plt.subplots(figsize=(10, 3.6))
    axis.plot(
        times(known), [e.data["probability"] for e in known], color="#555", linewidth=1, label="p(rain)"
    )
    for label, color, name in ((1, "#1f77b4", "rain_prediction=1"), (0, "#ff7f0e", "rain_prediction=0")):
        chosen = [e for e in known if e.data.get("rain_prediction") == label]
        if not chosen:
            continue
        axis.scatter(times(chosen), [e.data["probability"] for e in chosen], s=14, color=color, label=name)
    unknown = [e for e in predictions if e.data.get("probability") is None]
    if unknown:
        axis.scatter(
            times(unknown),
            [e.data.get("rain_prediction", 0) for e in unknown],
            marker="x",
            color="#999",
            label="prediction without logged p",
        )
    if stream.threshold is not None:
        axis.axhline(
            stream.threshold, color="#d62728", linestyle="--", label=f"threshold {stream.threshold:g}"
        )
    axis.set_ylim(-0.05, 1.05)
    axis.set_ylabel("probability of rain")
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    if not predictions:
        empty(axis, "no predictions")
    _save(figure, folder / "probability.png", plt)

    # Shadow versions and syncs.
    local = [
        e
        for e in stream.events
        if e.data.get("version") is not None
        and (e.kind in ("compensated", "prediction") or (e.kind == "sync" and e.data.get("to") == "device"))
    ]
    local.sort(key=lambda e: e.t)
    to_cloud = [
        e for e in stream.of("sync") if e.data.get("to") == "cloud" and e.data.get("version") is not None
    ]
    to_device = [e for e in stream.of("sync") if e.data.get("to") == "device"]
    figure, axis = plt.subplots(figsize=(10, 3.6))
    axis.step(times(local), [e.data["version"] for e in local], where="post", color="#1f77b4", label="local")
    axis.step(
        times(to_cloud), [e.data["version"] for e in to_cloud], where="post", color="#2ca02c", label="cloud"
    )
    axis.scatter(
        times(to_cloud),
        [e.data["version"] for e in to_cloud],
        marker="|",
        s=60,
        color="#2ca02c",
        label=f"sync local -> cloud ({len(to_cloud)})",
    )
    if to_device:
        axis.scatter(
            times(to_device),
            [e.data.get("version") or 0 for e in to_device],
            marker="v",
            color="#9467bd",
            label=f"sync cloud -> local ({len(to_device)})",
        )
    axis.set_ylabel("shadow version")
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    if not local and not to_cloud:
        empty(axis, "no shadow updates")
    _save(figure, folder / "shadow.png", plt)

    # Errors, rejections, dropped messages.
    rows: list[tuple[str, list]] = []
    for event in stream.events:
        if event.kind == "error":
            name = f"error: {event.data.get('function')}"
        elif event.kind in ("rejected", "dropped"):
            name = event.kind
        else:
            continue
        for row_name, row in rows:
            if row_name == name:
                row.append(event)
                break
        else:
            rows.append((name, [event]))
    figure, axis = plt.subplots(figsize=(10, max(1.8, 0.6 + 0.45 * len(rows))))
    for index, (_name, events) in enumerate(rows):
        sizes = [12 + 4 * min(e.data.get("count", 1), 10) for e in events]
        axis.scatter(times(events), [index] * len(events), s=sizes, color="#d62728", marker="x")
    axis.set_yticks(range(len(rows)), [f"{name} ({len(events)})" for name, events in rows])
    axis.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    end = max((e.t for e in stream.events), default=0.0) / scale
    axis.set_xlim(-0.02 * (end or 1), (end or 1) * 1.02)
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3, axis="x")
    if not rows:
        axis.set_yticks([])
        empty(axis, "no errors, rejected updates or dropped messages")
    _save(figure, folder / "errors.png", plt)
    return [{"file": name, "title": title, "caption": caption} for name, title, caption in PLOTS]


def _save(figure: Any, path: Path, plt: Any) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
