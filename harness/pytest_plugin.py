"""raincheck's pytest plugin: the emulated core, the cloud and the sensor, each one fixture away.

Registered through the `pytest11` entry point, so any suite that installs raincheck gets it:

    def test_prediction(gg_core, iot_data, sensor): ...

Options: --group PATH (default: the `raincheck_group` ini setting), --gg-mode fast|faithful,
--transport direct|mqtt, --sensor-backend simulated|recorded|bme680|serial, --sensor-option KEY=VALUE.
Markers: gg_group(path), pi, hardware, faithful. docs/plugin.md documents it all. Kept light at import:
heavy modules load inside the fixtures. The test's rig lives in the item's stash, for the report hook.

Report properties (JUnit XML with --junitxml): the suite gets raincheck_group, raincheck_mode,
raincheck_sensor_backend, raincheck_transport and raincheck_git_revision (`git rev-parse HEAD` in the
rootdir, "unknown" outside a checkout); each test that uses gg_core gets the same, with the group file it
really ran (a gg_group marker can change it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

RIG_KEY = pytest.StashKey["object"]()  # the test's rig, for hooks that report on it
REVISION_KEY = pytest.StashKey[str]()  # the session's git revision, looked up once

MARKERS = {
    "gg_group": "gg_group(path): the group file for this test or module (relative to its file)",
    "pi": "needs a real Greengrass core device, a BME680 and AWS credentials (tox -e pi)",
    "hardware": "needs a real BME680 on I2C",
    "faithful": "needs real time: runs only with --gg-mode faithful, skipped with the reason otherwise",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("raincheck_group", "default group file for gg_core, relative to the rootdir")
    group = parser.getgroup("raincheck", "raincheck hardware-in-the-loop harness")
    group.addoption("--group", dest="raincheck_group", type=Path, help="Greengrass group definition (YAML)")
    group.addoption(
        "--gg-mode",
        dest="raincheck_gg_mode",
        choices=("fast", "faithful"),
        default="fast",
        help="fast: simulated time that jumps whenever everything waits; faithful: real time",
    )
    group.addoption(
        "--transport",
        dest="raincheck_transport",
        choices=("direct", "mqtt"),
        default="direct",
        help="how devices reach gg_core (the device_transport fixture): direct into the router (default), "
        "or mqtt: discovery, then MQTT over TLS with the thing's certificate, as on a gateway",
    )
    group.addoption(
        "--sensor-backend",
        dest="raincheck_sensor_backend",
        default="simulated",
        help="sensor backend for the `sensor` fixture: simulated, recorded, bme680 or serial",
    )
    group.addoption(
        "--sensor-option",
        dest="raincheck_sensor_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option passed to the sensor backend (repeatable), e.g. seed=3 or path=day.csv",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("raincheck_gg_mode") == "faithful":
        return
    for item in items:
        if item.get_closest_marker("faithful") and "gg_core" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="needs --gg-mode faithful (real-time core)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001 - hook signature
    """A failed test that used gg_core gets a section with each function's state and the end of its log."""
    outcome = yield
    report = outcome.get_result()
    rig = item.stash.get(RIG_KEY, None)
    if rig is not None and report.when == "call" and report.failed and rig.core is not None:
        report.sections.append(("raincheck functions", rig.describe(log_lines=20)))


def git_revision(folder: Path) -> str:
    """The checked-out commit of `folder`'s repository, or "unknown" (no git, not a checkout)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else "unknown"


def run_properties(config: pytest.Config, group: Path | str | None = None) -> list[tuple[str, str]]:
    """What a run of the suite ran against, as (name, value) report properties."""
    if group is None:
        configured = config.getini("raincheck_group")
        option = config.getoption("raincheck_group")
        group = Path(option).absolute() if option else (config.rootpath / configured if configured else "")
    return [
        ("raincheck_group", str(group)),
        ("raincheck_mode", config.getoption("raincheck_gg_mode")),
        ("raincheck_sensor_backend", config.getoption("raincheck_sensor_backend")),
        ("raincheck_transport", config.getoption("raincheck_transport")),
        ("raincheck_git_revision", _revision(config)),
    ]


def _revision(config: pytest.Config) -> str:
    if REVISION_KEY not in config.stash:
        config.stash[REVISION_KEY] = git_revision(config.rootpath)
    return config.stash[REVISION_KEY]


@pytest.fixture(scope="session", autouse=True)
def _raincheck_suite_properties(request: pytest.FixtureRequest) -> None:
    """The suite's report properties, when JUnit XML is written (record_testsuite_property is a no-op
    otherwise, and absent when the junitxml plugin is disabled)."""
    if not request.config.getoption("xmlpath", None):
        return
    try:
        record = request.getfixturevalue("record_testsuite_property")
    except pytest.FixtureLookupError:
        return
    for name, value in run_properties(request.config):
        record(name, value)


@pytest.fixture
def gg_group(pytestconfig: pytest.Config, request: pytest.FixtureRequest):
    """The group definition under test: the test's or module's `@pytest.mark.gg_group(path)` (relative
    to the test file's folder), else --group, else the `raincheck_group` ini setting (relative to the
    rootdir)."""
    from raincheck.harness.group import GroupError, load_group

    marker = request.node.get_closest_marker("gg_group")
    configured = pytestconfig.getini("raincheck_group")
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError("@pytest.mark.gg_group takes one argument: the group file's path")
        path = Path(request.node.path).parent / marker.args[0]
    elif pytestconfig.getoption("raincheck_group"):
        path = pytestconfig.getoption("raincheck_group")
    elif configured:
        path = pytestconfig.rootpath / configured
    else:
        pytest.fail(
            "no group file: pass --group PATH, set raincheck_group in the pytest configuration, or mark "
            "the test with @pytest.mark.gg_group(path)",
            pytrace=False,
        )
    try:
        return load_group(path)
    except GroupError as error:  # the file and line say it all: no traceback through the harness
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def gg_core(gg_group, tmp_path: Path, pytestconfig: pytest.Config, request: pytest.FixtureRequest):
    """A started rig (harness.rig.Rig) for the group: the moto cloud with its things and ML resources,
    the deployed emulated core, shadow sync. The test's thread drives it: in fast mode simulated time
    moves only while the test waits through it (`run_for`, `wait_for`), never while the test sleeps or
    polls in wall time. Functions that failed during the test (crashes, timeouts, logged errors) are
    named once in the test's report, with their last exception and log path."""
    from raincheck.harness.rig import Rig

    rig = Rig(
        gg_group,
        mode=pytestconfig.getoption("raincheck_gg_mode"),
        workdir=tmp_path / "gg_core",
        mqtt=pytestconfig.getoption("raincheck_transport") == "mqtt",
    )
    request.node.stash[RIG_KEY] = rig
    group = Path(gg_group.path).absolute() if gg_group.path is not None else gg_group.name
    request.node.user_properties.extend(run_properties(pytestconfig, group))
    with rig:
        yield rig
    failures = rig.failures(logged_errors=True)
    if failures:
        request.node.add_report_section("teardown", "raincheck functions", "\n".join(failures))


@pytest.fixture
def device_transport(gg_core):
    """`device_transport(thing)`: a Transport (`publish(topic, payload)`) for a device of the group, over
    the path --transport chose: direct into the router, or discovery + MQTT/TLS (gg_core.device_transport)."""
    return gg_core.device_transport


@pytest.fixture
def cloud(gg_core):
    """The rig's moto-backed cloud (harness.cloud.mock.MockCloud): boto3 clients `iot`, `iot_data`, `s3`."""
    return gg_core.cloud


@pytest.fixture
def iot_data(gg_core):
    """A greengrasssdk iot-data client bound to `gg_core`, as a Lambda in the group would have it."""
    from raincheck.harness.core.sdk_client import iot_data_client

    return iot_data_client(gg_core.core)


@pytest.fixture
def lambda_client(gg_core):
    """A greengrasssdk `lambda` client bound to `gg_core`: `lambda_client.invoke(FunctionName=arn,
    Qualifier=..., Payload=...)` reaches the group's functions as another Lambda's call would."""
    from raincheck.harness.core.sdk_client import lambda_client as make_client

    return make_client(gg_core.core)


@pytest.fixture
def sensor(pytestconfig: pytest.Config):
    """The selected sensor backend (--sensor-backend, --sensor-option KEY=VALUE)."""
    from raincheck.device.sensors import open_sensor

    options = {}
    for item in pytestconfig.getoption("raincheck_sensor_options"):
        key, separator, value = item.partition("=")
        if not separator:
            raise pytest.UsageError(f"--sensor-option takes KEY=VALUE, got {item!r}")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    backend = open_sensor(pytestconfig.getoption("raincheck_sensor_backend"), **options)
    yield backend
    backend.close()
