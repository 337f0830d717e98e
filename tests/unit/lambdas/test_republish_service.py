"""One republish invocation with the fake `iot-data` client (conftest.py) and fake /sys: the tutorial's
hazards are gone, every failure is exactly one log line and no shadow write."""

import logging
import threading

import pytest

from raincheck.lambdas.republish.service import (
    RepublishSettings,
    republish,
    sample_cpu_temperatures,
    settings_from_env,
)

LOGGER = "raincheck.lambdas.republish.service"
GOOD = {"sequence": 1, "temperature": 30.0, "pressure": 1000.0, "humidity": 60.0, "message": "Success"}
FAIL = {"sequence": 2, "temperature": None, "pressure": None, "humidity": None, "message": "Fail"}
SETTINGS = RepublishSettings(thing_name="pi-thing", cpu_samples=4, cpu_sample_interval_s=1.0)


def sysfs(*texts: str):
    """A thermal-zone reader returning the given texts in turn; an OSError instance is raised."""
    queue = list(texts)

    def read() -> str:
        item = queue.pop(0)
        if isinstance(item, OSError):
            raise item
        return item

    return read


def no_sleep(seconds: float) -> None:
    pass


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def test_good_reading_writes_compensated_temperature_to_the_named_shadow(iot_data) -> None:
    sent = republish(GOOD, iot_data, SETTINGS, sysfs("40000", "42000", "38000", "40000"), no_sleep)
    reported = {"temperature": 20.0, "pressure": 1000.0, "humidity": 60.0, "message": "Success"}
    assert iot_data.decoded_updates() == [
        {"thingName": "pi-thing", "payload": {"state": {"reported": reported}}}
    ]
    assert sent == {"state": {"reported": reported}}


def test_samples_are_spaced_by_the_interval() -> None:
    sleeps: list[float] = []
    sample_cpu_temperatures(sysfs("1000", "2000", "3000"), 3, 0.25, sleeps.append)
    assert sleeps == [0.25, 0.25]


def test_hazard_fail_reading_logs_once_and_writes_nothing(iot_data, caplog: pytest.LogCaptureFixture) -> None:
    assert republish(FAIL, iot_data, SETTINGS, sysfs(), no_sleep) is None
    assert iot_data.updates == []
    assert len(failures(caplog)) == 1
    assert "Fail" in failures(caplog)[0]


def test_hazard_unreadable_cpu_temperature_logs_once_and_writes_nothing(
    iot_data, caplog: pytest.LogCaptureFixture
) -> None:
    reader = sysfs(*[FileNotFoundError(2, "No such file")] * 2, "garbage", "")
    assert republish(GOOD, iot_data, SETTINGS, reader, no_sleep) is None
    assert iot_data.updates == []
    assert len(failures(caplog)) == 1
    assert "CPU temperature unreadable" in failures(caplog)[0]


def test_partly_failed_cpu_reads_use_the_samples_that_worked(
    iot_data, caplog: pytest.LogCaptureFixture
) -> None:
    republish(GOOD, iot_data, SETTINGS, sysfs("40000", OSError(5, "I/O error"), "garbage", "40000"), no_sleep)
    assert iot_data.decoded_updates()[0]["payload"]["state"]["reported"]["temperature"] == 20.0
    assert len(failures(caplog)) == 1
    assert "2 of 4 CPU temperature reads failed" in failures(caplog)[0]


@pytest.mark.parametrize("thing_name", [None, ""])
def test_hazard_missing_thing_name_logs_once_and_writes_nothing(
    iot_data, thing_name: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = RepublishSettings(thing_name=thing_name, cpu_samples=1)
    assert republish(GOOD, iot_data, settings, sysfs("40000"), no_sleep) is None
    assert iot_data.updates == []
    assert failures(caplog) == ["THING_NAME is not set: cannot address the shadow; reading dropped"]


def test_shadow_error_is_logged_not_raised(iot_data, caplog: pytest.LogCaptureFixture) -> None:
    iot_data.update_error = iot_data.ShadowError(
        'returned error code 400 with message "Missing required node"'
    )
    assert republish(GOOD, iot_data, SETTINGS, sysfs(*["40000"] * 4), no_sleep) is None
    assert len(failures(caplog)) == 1
    assert "ShadowError" in failures(caplog)[0] and "400" in failures(caplog)[0]


def test_refused_compensation_logs_once_and_writes_nothing(
    iot_data, caplog: pytest.LogCaptureFixture
) -> None:
    hot_sensor = {**GOOD, "temperature": 80.0}  # 2*80 - 40 = 120 °C: not a real air temperature
    assert republish(hot_sensor, iot_data, SETTINGS, sysfs(*["40000"] * 4), no_sleep) is None
    assert iot_data.updates == []
    assert len(failures(caplog)) == 1
    assert "Compensation refused" in failures(caplog)[0]


@pytest.mark.parametrize("event", [None, "not json", [], {"temperature": 20}, {**GOOD, "humidity": "wet"}])
def test_bad_events_never_raise(iot_data, event: object, caplog: pytest.LogCaptureFixture) -> None:
    assert republish(event, iot_data, SETTINGS, sysfs(), no_sleep) is None
    assert iot_data.updates == []
    assert len(failures(caplog)) == 1


def test_overlapping_invocations_keep_their_own_average(iot_data) -> None:
    """Two invocations interleave their samples one by one; each must average only its own."""
    turn = threading.Barrier(2)

    def invoke(cpu_millidegrees: str, sensor_c: float) -> None:
        settings = RepublishSettings("pi-thing", cpu_samples=4, cpu_sample_interval_s=0)
        event = {**GOOD, "temperature": sensor_c}
        republish(event, iot_data, settings, sysfs(*[cpu_millidegrees] * 4), lambda _: turn.wait(timeout=5))

    threads = [threading.Thread(target=invoke, args=args) for args in (("30000", 30.0), ("60000", 50.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    temperatures = sorted(
        u["payload"]["state"]["reported"]["temperature"] for u in iot_data.decoded_updates()
    )
    assert temperatures == [30.0, 40.0]  # 2*30-30 and 2*50-60: no mixed CPU means


def test_settings_from_env_defaults_and_overrides() -> None:
    assert settings_from_env({}) == RepublishSettings(None, 8, 1.0)
    env = {"THING_NAME": "t", "CPU_SAMPLES": "3", "CPU_SAMPLE_INTERVAL_S": "0.5"}
    assert settings_from_env(env) == RepublishSettings("t", 3, 0.5)


@pytest.mark.parametrize(
    "env",
    [
        {"CPU_SAMPLES": "0"},
        {"CPU_SAMPLES": "x"},
        {"CPU_SAMPLE_INTERVAL_S": "nan"},
        {"CPU_SAMPLE_INTERVAL_S": "-1"},
    ],
)
def test_malformed_settings_fall_back_to_defaults_with_a_log_line(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert settings_from_env({"THING_NAME": "t", **env}) == RepublishSettings("t", 8, 1.0)
    assert len(failures(caplog)) == 1
