"""The raincheck pytest plugin, as a user's suite sees it (pytester runs inner pytest sessions)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


def test_options_and_markers_are_registered(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--group*", "*--gg-mode*", "*--sensor-backend*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.pi:*", "@pytest.mark.hardware:*", "@pytest.mark.faithful:*"])


def test_sensor_fixture_follows_the_backend_switch(pytester):
    pytester.makepyfile(
        """
        def test_reads(sensor):
            reading = sensor.read()
            assert type(sensor).__name__ == "SimulatedSensor"
            assert reading.ok and -40 <= reading.temperature_c <= 85
        """
    )
    pytester.runpytest("--sensor-backend", "simulated", "--sensor-option", "seed=3").assert_outcomes(passed=1)
    bad = pytester.runpytest("--sensor-backend", "nonsense")
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines(["*unknown sensor backend 'nonsense'*"])


def test_faithful_tests_skip_with_a_reason_in_fast_mode(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.faithful
        def test_real_time(gg_core):
            raise AssertionError("must not run in fast mode")
        """
    )
    result = pytester.runpytest("-rs", "--gg-mode", "fast")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs --gg-mode faithful*"])


def test_a_bad_group_file_is_a_clear_error(pytester):
    pytester.makefile(".yaml", group="group: g\ncore: {thing: c}\nfunctions: []\nbogus: 1\n")
    pytester.makepyfile("def test_group(gg_group):\n    pass\n")
    result = pytester.runpytest("--group", "group.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*group.yaml:1: group: unknown key(s) 'bogus'*"])


@pytest.mark.slow
def test_iot_data_reaches_the_core_shadow_and_sync_carries_it_to_the_cloud(gg_core, iot_data, cloud):
    update = {"state": {"desired": {"led": "on"}, "reported": {"message": "Success"}}}
    accepted = json.loads(
        iot_data.update_thing_shadow(thingName="bme680_sensor", payload=json.dumps(update))["payload"]
    )
    assert accepted["state"] == update["state"]
    document = json.loads(iot_data.get_thing_shadow(thingName="bme680_sensor")["payload"])
    assert document["state"]["delta"] == {"led": "on"}
    gg_core.sync.flush()
    assert cloud.get_shadow("bme680_sensor")["state"]["desired"] == {"led": "on"}
