"""`raincheck`: the command line.

raincheck run        the pipeline on embedded defaults; prints the cloud shadow as JSON
raincheck record     a sensor backend into a recording (raincheck CSV with metadata)
raincheck replay     a recording through the pipeline, at its own timing; prints the cloud shadow as JSON
raincheck predict    a model pair on one reading
raincheck deploy     the group to a Greengrass V2 core device (--dry-run prints the requests)
raincheck evaluate   a rain model on hourly observations through the inference Lambda's feature code
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any


def _pipeline(command: str, args: argparse.Namespace, **options: Any) -> int:
    """run and replay: the pipeline with its events on stderr (lines or a progress bar, --show), errors as
    lines on stderr, and on stdout the cloud shadow, or with --json one JSON document and nothing else;
    --report DIR writes the HTML report."""
    from raincheck.app.document import run_document
    from raincheck.app.events import Console, EventStream
    from raincheck.app.pipeline import PipelineError, run_pipeline
    from raincheck.harness.core.deployment import DeploymentError
    from raincheck.harness.group import GroupError, load_group

    prefix = f"raincheck {command}"
    if args.report is not None:
        from raincheck.app.report import ReportUnavailable, check_report_extra

        try:
            check_report_extra()
        except ReportUnavailable as error:
            print(f"{prefix}: {error}", file=sys.stderr)
            return 1
    stream = EventStream()
    console = Console(args.show, stream, sys.stderr)
    settings: dict[str, Any] = {}
    try:
        group_path = _group_path(args)
        group = load_group(group_path) if group_path else None
        settings = _settings(command, args, group, options)
        from raincheck.app.faults import parse_faults

        settings["faults"] = list(args.fault)
        result = run_pipeline(
            mode=args.mode,
            group=group,
            workdir=args.workdir,
            transport=args.transport,
            progress=console.line,
            events=stream,
            faults=parse_faults(args.fault),
            **options,
        )
    except PipelineError as error:
        if console.bar is not None:
            console.bar.close()
        print(f"{prefix}: {error}", file=sys.stderr)
        for line in error.failures:  # each failing function once: its last exception, restarts, log
            print(f"  {line}", file=sys.stderr)
        if error.workdir is not None:
            print(f"  work folder kept: {error.workdir}", file=sys.stderr)
        _print_summary(prefix, error.replay_summary)
        document = run_document(
            command,
            settings,
            stream,
            error=str(error),
            failures=error.failures,
            replay_summary=error.replay_summary,
            include_events=args.events,
        )
        _finish(prefix, args, document, stream)
        return 1
    except (GroupError, DeploymentError, ValueError, OSError, RuntimeError) as error:
        # RuntimeError: the MQTT edge (a failed discovery, the mqtt extra not installed)
        print(f"{prefix}: {error}", file=sys.stderr)
        return 1
    for line in result.failures:  # the run succeeded, but not without trouble: say so once per function
        print(f"{prefix}: warning: {line}", file=sys.stderr)
    _print_summary(prefix, result.replay_summary)
    document = run_document(command, settings, stream, result, include_events=args.events)
    if not args.json:
        print(json.dumps(result.cloud_shadow, indent=2, sort_keys=True))
    return _finish(prefix, args, document, stream)


def _finish(prefix: str, args: argparse.Namespace, document: dict, stream: Any) -> int:
    """--json's document on stdout, --report's folder; 1 when the report could not be written."""
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=True, default=str))
    if args.report is None:
        return 0
    from raincheck.app.report import write_report

    try:
        index = write_report(args.report, document, stream)
    except OSError as error:
        print(f"{prefix}: cannot write the report to {args.report}: {error}", file=sys.stderr)
        return 1
    print(f"{prefix}: report written to {index}", file=sys.stderr)
    return 0


def _group_path(args: argparse.Namespace) -> Path | None:
    """--group, or the bundled group of --runtime; None for the default group."""
    from raincheck.harness.paths import fixtures_dir

    if args.runtime is not None and args.group is not None:
        raise ValueError("give --group or --runtime, not both (--runtime picks a bundled group file)")
    if args.runtime is not None:
        return fixtures_dir() / RUNTIME_GROUPS[args.runtime]
    return args.group


def _settings(command: str, args: argparse.Namespace, group: Any, options: dict[str, Any]) -> dict[str, Any]:
    from raincheck.app.pipeline import default_group

    group = group or default_group()
    runtime = next(
        (f.environment["MODEL_RUNTIME"] for f in group.functions if "MODEL_RUNTIME" in f.environment),
        "tensorflow",
    )
    recording = options.get("recording")
    backend = "recorded" if recording is not None else options.get("backend", "simulated")
    backend_options = dict(options.get("backend_options") or {})
    if backend == "simulated":
        backend_options.setdefault("seed", options.get("seed"))
    return {
        "command": command,
        "group": str(group.path) if group.path is not None else None,
        "group_name": group.name,
        "runtime": runtime,
        "mode": args.mode,
        "transport": args.transport,
        "backend": backend,
        "backend_options": backend_options,
        "recording": None if recording is None else str(recording),
        "readings": options.get("readings"),
        "speed": options.get("speed"),
    }


def _print_summary(prefix: str, summary: Any) -> None:
    if summary is not None:
        for line in summary.lines():
            print(f"{prefix}: {line}" if not line.startswith(" ") else line, file=sys.stderr)


RUNTIME_GROUPS = {"tensorflow": "group.yaml", "litert": "group_litert.yaml"}
DEFAULT_READINGS = 12


def _run(args: argparse.Namespace) -> int:
    from raincheck.device import constants

    def fail(message: str) -> int:
        print(f"raincheck run: {message}", file=sys.stderr)
        return 1

    try:
        backend_options = _options(args.option)
    except ValueError as error:
        return fail(str(error))
    if args.recording is not None and args.backend not in (None, "recorded"):
        return fail("--recording replays a recording: it cannot be combined with --backend " + args.backend)
    backend = args.backend or "simulated"
    readings = args.readings
    if args.duration is not None:
        readings = int(args.duration / constants.PUBLISH_PERIOD_S + 1e-9)
        if readings < 1:
            period = constants.PUBLISH_PERIOD_S
            return fail(f"--duration {args.duration:g} s is shorter than one period ({period:g} s)")
    if readings is None and args.recording is None and backend != "recorded":
        readings = DEFAULT_READINGS
    return _pipeline(
        "run",
        args,
        readings=readings,
        seed=args.seed,
        recording=args.recording,
        backend=backend,
        backend_options=backend_options,
    )


def _replay(args: argparse.Namespace) -> int:
    try:
        speed = _speed(args.speed, args.mode)
        if args.count is not None and args.count < 1:
            raise ValueError(f"--count must be at least 1, got {args.count}")
    except ValueError as error:
        print(f"raincheck replay: {error}", file=sys.stderr)
        return 1
    options: dict[str, Any] = {"strict": args.strict, "format": args.format}
    return _pipeline(
        "replay",
        args,
        readings=args.count,
        recording=args.file,
        recording_options=options,
        recording_timing=True,
        speed=speed,
    )


def _speed(text: str | None, mode: str) -> float | None:
    """--speed: None for as fast as it goes; a factor of real time to pace fast mode with."""
    if mode == "faithful":
        if text not in (None, "1", "1.0"):
            raise ValueError("--mode faithful replays in real time: --speed must be 1 or left out")
        return None
    if text is None or text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise ValueError(f"--speed must be max or a number > 0, got {text!r}") from None
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"--speed must be max or a number > 0, got {text!r}")
    return speed


def _options(pairs: list[str]) -> dict[str, Any]:
    """--option key=value pairs; a value is JSON when it parses as JSON (3, 2.5, true, null), else text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--option must be key=value with a name as key, got {pair!r}")
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def _record(args: argparse.Namespace) -> int:
    from raincheck.device import constants
    from raincheck.device.recorder import record, recording_metadata
    from raincheck.device.sensors import BACKENDS, SensorUnavailable, open_sensor

    def fail(message: str) -> int:
        print(f"raincheck record: {message}", file=sys.stderr)
        return 1

    if args.backend not in BACKENDS:
        return fail(f"unknown backend {args.backend!r}; choose one of {', '.join(BACKENDS)}")
    try:
        options = _options(args.option)
    except ValueError as error:
        return fail(str(error))
    if args.period is not None and not args.period > 0:
        return fail(f"--period must be > 0, got {args.period:g}")
    if args.backend == "simulated" and args.period is not None:
        # The simulated weather steps its own clock: it must step by the recording's period.
        options.setdefault("period_s", args.period)
        if options["period_s"] != args.period:
            return fail(f"--period {args.period:g} and --option period_s={options['period_s']} differ")
    try:
        sensor = open_sensor(args.backend, **options)
    except TypeError as error:  # an option the backend's factory does not take
        return fail(f"backend {args.backend!r}: bad option: {error}")
    except (ValueError, SensorUnavailable, OSError) as error:
        return fail(f"backend {args.backend!r}: {error}")
    with sensor:
        period = args.period or getattr(sensor, "period_s", None) or constants.PUBLISH_PERIOD_S
        if args.duration is not None:
            count = int(args.duration / period + 1e-9)  # whole periods only
            if count < 1:
                return fail(f"--duration {args.duration:g} s is shorter than one period ({period:g} s)")
        else:
            count = args.count
            if count < 1:
                return fail(f"--count must be at least 1, got {count}")
        # Real hardware takes its readings in real time; the others keep their own time and do not wait.
        real = args.backend in ("bme680", "serial") and options.get("bus") != "emulated"
        try:
            written = record(
                sensor,
                args.out,
                count,
                period_s=period,
                sleep=time.sleep if real else None,
                metadata=lambda: recording_metadata(args.backend, options, period),
            )
        except OSError as error:
            where = error.filename or args.out
            return fail(f"cannot write {where}: {error.strerror or error}")
        except KeyboardInterrupt:
            return fail(f"interrupted; {args.out} keeps the readings taken so far")
    print(
        f"raincheck record: {written} readings from {args.backend} to {args.out} ({period:g} s apart)",
        file=sys.stderr,
    )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from raincheck.lambdas.inference.core import classify, resolve_threshold, validate_threshold
    from raincheck.lambdas.inference.model import ModelContractError, load_model_pair

    try:
        if args.threshold is not None:
            validate_threshold(args.threshold)
        model = load_model_pair(args.standardiser, args.predictor, runtime=args.runtime)
        threshold, source = resolve_threshold(args.threshold, model.threshold)
        source = "--threshold" if source == "PREDICTION_THRESHOLD" else source
        # The Lambda's features for this reading as its first (no 3 h history), at --altitude-m.
        from raincheck.lambdas.inference.contract import feature_rows

        reading = (0.0, args.pressure, args.temperature, args.humidity)
        probability = model.predict_proba(*feature_rows(model.contract, [reading], args.altitude_m)[0])
    except (ModelContractError, ValueError, NotImplementedError) as error:
        print(f"raincheck predict: {error}", file=sys.stderr)
        return 1
    label = classify(probability, threshold)
    print(
        json.dumps(
            {
                "probability": probability,
                "threshold": threshold,
                "threshold_source": source,
                "rain_prediction": label,
            }
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raincheck", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="simulated sensor -> emulated core -> moto cloud; prints the cloud shadow as JSON"
    )
    amount = run.add_mutually_exclusive_group()
    amount.add_argument(
        "--readings",
        type=int,
        help="readings to publish, 10 s apart (default: 12 simulated, or every row of --recording)",
    )
    amount.add_argument(
        "--duration",
        type=float,
        help="seconds of the core's time to publish for: duration / 10 s readings (86400: a day)",
    )
    run.add_argument(
        "--backend",
        help="sensor backend: simulated (default), recorded, bme680 or serial (options with --option)",
    )
    run.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a sensor backend option, repeatable (seed=3, path=log.csv, bus=emulated); values are JSON if "
        "they parse as JSON, else text",
    )
    run.add_argument(
        "--recording",
        type=Path,
        help="replay this recording (raincheck CSV or the ESP32 BME680 log) instead of the simulated sensor, "
        "one row per 10 s period (`raincheck replay` keeps the recording's own timing)",
    )
    run.add_argument("--seed", type=int, default=7, help="seed of the simulated weather (default 7)")
    run.add_argument(
        "--mode",
        choices=("fast", "faithful"),
        default="fast",
        help="fast: simulated time, jumps whenever everything waits (default); faithful: real time",
    )
    run.add_argument("--group", type=Path, help="group definition (default: the bundled fixtures/group.yaml)")
    run.add_argument("--workdir", type=Path, help="keep the core's logs and deployment here")
    _add_transport(run)
    _add_output(run)
    run.set_defaults(func=_run)

    record = commands.add_parser(
        "record",
        help="write a sensor backend's readings to a recording (raincheck CSV with metadata)",
        description="Record any sensor backend to the raincheck CSV format, headed by `# key: value` "
        "metadata lines (backend, settings, host, start_time, period_s, raincheck_version); see "
        "docs/recordings.md. A real sensor (bme680 on a bus, serial) is read in real time, period_s "
        "apart; simulated and recorded backends keep their own time and do not wait.",
    )
    record.add_argument("--backend", required=True, help="simulated, recorded, bme680 or serial")
    record.add_argument("--out", required=True, type=Path, help="the recording to write")
    amount = record.add_mutually_exclusive_group(required=True)
    amount.add_argument("--count", type=int, help="readings to record")
    amount.add_argument("--duration", type=float, help="seconds of readings: duration / period readings")
    record.add_argument(
        "--period",
        type=float,
        help="seconds between readings (default: the backend's own period_s, else 10)",
    )
    record.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option, repeatable (seed=3, path=log.csv, strict=true); values are JSON if they "
        "parse as JSON, else text",
    )
    record.set_defaults(func=_record)

    replay = commands.add_parser(
        "replay",
        help="run a recording through the pipeline; prints the cloud shadow as JSON, the replay summary "
        "on stderr",
        description="Replay a recording (raincheck CSV, with or without metadata, or the ESP32 BME680 log) "
        "through the whole pipeline, one published reading per row, waiting the recording's own time "
        "between rows (a gap included). Faulty rows are repaired or skipped, each logged with its line; "
        "a summary by kind ends the replay (docs/recordings.md).",
    )
    replay.add_argument("file", type=Path, help="the recording")
    replay.add_argument(
        "--speed",
        help="max (default): fast mode's simulated time, as fast as the pipeline goes. N: the same "
        "simulation, paced so readings are published no faster than N x the recording's real time (the "
        "simulated clock still advances by each full step; only wall time is held back, so results do "
        "not change with N). Faithful mode is real time: --speed 1 only",
    )
    replay.add_argument(
        "--strict",
        action="store_true",
        help="fail at the first faulty row (file, line, problem) instead of repairing or skipping it",
    )
    replay.add_argument("--count", type=int, help="replay only the first N good rows")
    replay.add_argument(
        "--format", choices=("auto", "raincheck", "esp32"), default="auto", help="default: by the first row"
    )
    replay.add_argument(
        "--mode",
        choices=("fast", "faithful"),
        default="fast",
        help="fast: simulated time (default); faithful: real time, a 3 s step takes 3 s",
    )
    replay.add_argument(
        "--group", type=Path, help="group definition (default: the bundled fixtures/group.yaml)"
    )
    replay.add_argument("--workdir", type=Path, help="keep the core's logs and deployment here")
    _add_transport(replay)
    _add_output(replay)
    replay.set_defaults(func=_replay)

    predict = commands.add_parser("predict", help="check a model pair on one reading before deploying it")
    predict.add_argument(
        "--standardiser",
        required=True,
        type=Path,
        help="standardiser SavedModel (zip or folder); not read with --runtime litert",
    )
    predict.add_argument(
        "--predictor",
        required=True,
        type=Path,
        help="rain predictor SavedModel (zip or folder); with --runtime litert, a LiteRT rain model "
        "(zip or folder, as ml_resources/export_litert.py writes)",
    )
    predict.add_argument(
        "--runtime",
        choices=("tensorflow", "litert"),
        default="tensorflow",
        help="litert never converts a SavedModel pair: export it first (default: tensorflow)",
    )
    predict.add_argument(
        "--threshold", type=float, help="decision threshold (default: the model's, else 0.5)"
    )
    predict.add_argument(
        "--altitude-m", type=float, default=0.0, help="the gateway's altitude, as ALTITUDE_M (default 0)"
    )
    predict.add_argument("pressure", type=float, help="hPa")
    predict.add_argument("temperature", type=float, help="°C")
    predict.add_argument("humidity", type=float, help="%%RH")
    predict.set_defaults(func=_predict)

    from raincheck.harness.deploy.command import add_deploy_parser

    add_deploy_parser(commands)
    from raincheck.app.evaluate import add_evaluate_parser

    add_evaluate_parser(commands)
    return parser


def _add_transport(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transport",
        choices=("direct", "mqtt"),
        default="direct",
        help="how the sensor's Thing reaches the core: direct into the router (default), or mqtt: "
        "Greengrass discovery, then MQTT over TLS with the thing's certificate, as on a gateway",
    )


def _add_output(parser: argparse.ArgumentParser) -> None:
    """run and replay: the inference runtime, and what the run shows and writes."""
    parser.add_argument(
        "--runtime",
        choices=tuple(RUNTIME_GROUPS),
        help="the inference Lambda's runtime: the bundled fixtures/group.yaml (tensorflow, the default) or "
        "fixtures/group_litert.yaml (litert); not with --group",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (settings, counts, final local and cloud shadows) and "
        "nothing else",
    )
    parser.add_argument("--events", action="store_true", help="with --json: every event in the document")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:K=V,...][@T]",
        help="inject a fault T simulated seconds after publishing starts (default: the middle of the "
        "run), repeatable: kill:function=F, hang:function=F[,count=N], sys-unreadable[:seconds=S], "
        "broker-drop (--transport mqtt), cloud-unreachable[:seconds=S], disk-full[:seconds=S], "
        "sensor-io:rate=R, sensor-null:rate=R, and at deployment model-missing:resource=ID, "
        "model-corrupt:resource=ID (docs/reliability.md)",
    )
    parser.add_argument(
        "--show",
        choices=("auto", "events", "progress", "quiet"),
        default="auto",
        help="stderr while running: one line per event, a progress bar, or nothing; auto (default): event "
        "lines up to 100 readings, beyond that a progress bar on a terminal and nothing when piped",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write an HTML report of the run (index.html, PNG plots, summary.json) into DIR; needs the "
        "report extra",
    )


def main(argv: list[str] | None = None) -> int:
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)  # the core's INFO lines go to its own log file, not the terminal
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
