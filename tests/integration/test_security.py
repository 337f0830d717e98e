"""Security checks of issue 15 that other tests do not already make (docs/reliability.md lists those):
a device or Lambda reaches only what its subscriptions allow, a device without a route to the shadow
service cannot write a shadow, and no credential, token or private key appears in any log, report or
`--json` output of a run with every fault that applies."""

from __future__ import annotations

import json
import re
from pathlib import Path

from raincheck.harness.core import functions as functions_module

GROUP = """
group: fenced
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}, {thing: intruder}, {thing: observer}]
functions:
  - {name: worker, handler: lambda_function.function_handler, code: "{lambdas}/probe"}
subscriptions:
  - {source: thing:sensor, subject: probe/work, target: function:worker}
  - {source: thing:sensor, subject: "$aws/things/sensor/shadow/update", target: GGShadowService}
  - {source: GGShadowService, subject: "$aws/things/sensor/shadow/#", target: thing:sensor}
"""


def test_only_subscriptions_carry_messages_and_no_shadow_is_written_without_one(start_core, reliability):
    with start_core(GROUP) as rig:
        update = {"state": {"reported": {"owner": "intruder"}}}
        attempts = [
            ("thing:intruder", "$aws/things/sensor/shadow/update"),  # another device's shadow
            ("thing:intruder", "$aws/things/intruder/shadow/update"),  # its own, without a route
            ("thing:intruder", "probe/work"),  # the worker, from a device not subscribed to it
            ("function:worker", "$aws/things/sensor/shadow/update"),  # a Lambda without a shadow route
        ]
        taken = [rig.publish(source, topic, update) for source, topic in attempts]
        rig.publish("thing:sensor", "probe/work", {})  # the worker answers on probe/out: no route on
        worker = rig.functions["worker"]
        rig.wait_for(lambda: worker.ever_ready and not worker.busy(), what="the worker's answer")
        rig.run_for(5)
        assert rig.shadow("sensor") is None and rig.shadow("intruder") is None
        assert rig.device_messages("observer") == [] and rig.device_messages("intruder") == []
        dropped = rig.core.router.dropped
        # The route that exists works: the same update from the sensor itself is accepted.
        rig.publish("thing:sensor", "$aws/things/sensor/shadow/update", update)
        rig.run_for(1)
        assert rig.shadow("sensor")["version"] == 1
    assert taken == [0, 0, 0, 0]
    assert dropped >= len(attempts) + 2  # the attempts, the worker's probe/started and probe/out
    reliability.record(
        "unsubscribed publish",
        "the router drops it (counted): no shadow written, no Lambda invoked, no device reached",
        len(attempts) + 2,
        dropped=dropped,
    )


SECRET_MARKERS = ("PRIVATE KEY", "AWS_CONTAINER_AUTHORIZATION_TOKEN=", "aws_secret_access_key")
EVERY_FAULT = [
    "sensor-io:rate=0.2@20",
    "sensor-null:rate=0.2@20",
    "sys-unreadable:seconds=15@30",
    "kill:function=inference@40",
    "hang:function=republish@50",
    "cloud-unreachable:seconds=30@60",
    "disk-full:seconds=10@70",
    "broker-drop@80",
]


def test_no_credential_token_or_private_key_in_any_log_report_or_json(
    tmp_path: Path, capsys, monkeypatch, reliability
):
    from raincheck.app.cli import main

    tokens: list[str] = []
    real_token_hex = functions_module.secrets.token_hex

    def recorded_token_hex(nbytes: int | None = None) -> str:
        token = real_token_hex(nbytes)
        tokens.append(token)
        return token

    monkeypatch.setattr(functions_module.secrets, "token_hex", recorded_token_hex)
    workdir, report = tmp_path / "work", tmp_path / "report"
    arguments = ["run", "--runtime", "litert", "--readings", "12", "--transport", "mqtt", "--json"]
    arguments += ["--show", "events", "--workdir", str(workdir), "--report", str(report)]
    for fault in EVERY_FAULT:
        arguments += ["--fault", fault]
    code = main(arguments)
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert code == 0, err
    assert [fault["name"] for fault in document["faults"]] == [
        f.split(":")[0].split("@")[0] for f in EVERY_FAULT
    ]
    assert document["counts"]["fault"] == len(EVERY_FAULT)

    # What must not leak: each container's IPC token, the certificates' private keys, and the markers.
    keys = [p for p in (workdir / "edge").rglob("*") if p.is_file() and "PRIVATE KEY" in _text(p)]
    key_lines = {
        line for path in keys for line in _text(path).splitlines() if line and not line.startswith("-----")
    }
    assert tokens and keys and key_lines
    scanned = {"stdout (--json)": out, "stderr": err}
    for folder in (workdir / "logs", report):
        for path in folder.rglob("*"):
            if path.is_file():
                scanned[str(path)] = _text(path)
    leaks = [
        (where, secret[:12])
        for where, text in scanned.items()
        for secret in (*tokens, *key_lines, *SECRET_MARKERS)
        if secret in text
    ]
    assert leaks == []
    lines = sum(text.count("\n") for text in scanned.values())
    assert re.search(r"fault\s+kill: 1 container\(s\) of inference killed", err)
    reliability.record(
        "every fault in one run: nothing leaks",
        "no IPC token, private key or credential in any log line, the report or the --json output",
        len(scanned),
        faults=len(EVERY_FAULT),
        tokens=len(tokens),
        private_keys=len(keys),
        lines_scanned=lines,
    )


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")
