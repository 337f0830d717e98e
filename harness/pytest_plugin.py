"""raincheck's pytest plugin: the emulated core, the cloud and the sensor, each one fixture away.

Registered through the `pytest11` entry point, so any suite that installs raincheck gets it:

    def test_prediction(gg_core, iot_data, sensor): ...

Options: --group PATH (default: raincheck's own fixtures/group.yaml), --gg-mode fast|faithful,
--sensor-backend simulated|recorded|bme680|serial, --sensor-option KEY=VALUE.
Markers: pi, hardware, faithful. Kept light at import: heavy modules load inside the fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MARKERS = {
    "pi": "needs a real Greengrass core device, a BME680 and AWS credentials (tox -e pi)",
    "hardware": "needs a real BME680 on I2C",
    "faithful": "runs the emulated core in faithful mode (real time, one process per Lambda)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
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


@pytest.fixture(scope="session")
def gg_group(pytestconfig: pytest.Config):
    """The group definition under test (--group, default: raincheck's application group)."""
    from harness.group import GroupError, load_group
    from harness.paths import fixtures_dir

    try:
        return load_group(pytestconfig.getoption("raincheck_group") or fixtures_dir() / "group.yaml")
    except GroupError as error:  # the file and line say it all: no traceback through the harness
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def cloud(gg_group):
    """moto-backed cloud for the group's region: things registered, ML resources uploaded."""
    from harness.cloud.mock import MockCloud

    with MockCloud(gg_group.region) as mocked:
        for device in gg_group.devices:
            mocked.register_thing(device.thing)
        for resource in gg_group.ml_resources:
            if resource.local_source is not None:
                mocked.upload_ml_resource(resource)
        yield mocked


@pytest.fixture
def gg_core(gg_group, cloud, tmp_path: Path, pytestconfig: pytest.Config, request: pytest.FixtureRequest):
    """A deployed, running emulated core for the group, its synced shadows mirrored to `cloud`. Functions
    that failed during the test (crashes, timeouts, logged errors) are named once in the test's report,
    with their last exception and log path."""
    from harness.cloud.sync import ShadowSync
    from harness.core.core import EmulatedCore, make_clock

    workdir = tmp_path / "gg_core"
    core = EmulatedCore(
        gg_group,
        workdir,
        clock=make_clock(pytestconfig.getoption("raincheck_gg_mode"), workdir),
        fetch_resource=cloud.fetch_ml_resource,
        cloud_sink=cloud.publish,
    )
    with core:
        synced = [d.thing for d in gg_group.devices if d.sync_shadow]
        core.sync = ShadowSync(core.router, cloud, synced)
        yield core
        core.sync.stop()
    failures = core.failures(logged_errors=True)
    if failures:
        request.node.add_report_section("teardown", "raincheck functions", "\n".join(failures))


@pytest.fixture
def iot_data(gg_core):
    """A greengrasssdk iot-data client bound to `gg_core`, as a Lambda in the group would have it."""
    from harness.core.sdk_client import iot_data_client

    return iot_data_client(gg_core)


@pytest.fixture
def sensor(pytestconfig: pytest.Config):
    """The selected sensor backend (--sensor-backend, --sensor-option KEY=VALUE)."""
    from device.sensors import open_sensor

    options = {}
    for item in pytestconfig.getoption("raincheck_sensor_options"):
        key, separator, value = item.partition("=")
        if not separator:
            raise pytest.UsageError(f"--sensor-option takes KEY=VALUE, got {item!r}")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    backend = open_sensor(pytestconfig.getoption("raincheck_sensor_backend"), **options)
    yield backend
    backend.close()
