"""The raincheck pytest plugin, as a user's suite sees it (pytester runs inner pytest sessions)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]


def test_options_and_markers_are_registered(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--group*", "*--gg-mode*", "*--transport*", "*--sensor-backend*"])
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


def test_the_bme680_backend_on_the_emulated_bus_runs_the_real_driver_on_the_simulated_weather(pytester):
    pytester.makepyfile(
        """
        import bme680

        from raincheck.device.sensors.simulated import SimulatedSensor


        def test_reads(sensor):
            assert isinstance(sensor.driver, bme680.BME680)  # pimoroni's driver, unmodified
            assert type(sensor.driver._i2c).__name__ == "EmulatedBme680Bus"
            weather = SimulatedSensor(seed=3)
            for _ in range(3):
                reading, air = sensor.read(), weather.read()
                assert abs(reading.temperature_c - air.temperature_c) <= 0.01
                assert abs(reading.pressure_hpa - air.pressure_hpa) <= 0.06
                assert abs(reading.humidity_rh - air.humidity_rh) <= 0.01
        """
    )
    result = pytester.runpytest(
        "--sensor-backend", "bme680", "--sensor-option", "bus=emulated", "--sensor-option", "seed=3"
    )
    result.assert_outcomes(passed=1)


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


def test_a_users_lambda_from_its_own_project_runs_and_its_failure_is_reported_once(pytester):
    pytester.makefile(
        ".yaml",
        group="""
group: users
core: {thing: gateway, packages: [greengrasssdk]}
devices: [{thing: sensor}]
functions:
  - {name: echo, handler: lambda_function.function_handler, code: lambdas/echo}
  - {name: broken, handler: lambda_function.function_handler, code: lambdas/broken, pinned: true}
subscriptions:
  - {source: thing:sensor, subject: in, target: function:echo}
  - {source: function:echo, subject: out, target: thing:sensor}
""",
    )
    echo = pytester.mkdir("lambdas").joinpath("echo")
    echo.mkdir()
    echo.joinpath("lambda_function.py").write_text(
        "import greengrasssdk\nclient = greengrasssdk.client('iot-data')\n\n"
        "def function_handler(event, context):\n"
        "    client.publish(topic='out', payload=context.client_context.custom['subject'])\n"
    )
    broken = pytester.path / "lambdas" / "broken"
    broken.mkdir()
    broken.joinpath("lambda_function.py").write_text("raise RuntimeError('no model here')\n")
    pytester.makepyfile(
        """
        def test_echo(gg_core):
            gg_core.publish("thing:sensor", "in", {})
            assert gg_core.wait_for(lambda: gg_core.device_messages("sensor", "out")) == [("out", b"in")]

        def test_broken(gg_core):
            gg_core.wait_for(lambda: gg_core.functions["broken"].crashes, fail_fast=False)
            assert False, "the report names the function"
        """
    )
    result = pytester.runpytest("--group", "group.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*raincheck functions*", "*function broken: RuntimeError: no model here (*"])


def test_waiting_in_wall_time_does_not_move_simulated_time_and_waiting_through_the_rig_does(
    pytester, test_lambdas
):
    pytester.makefile(
        ".yaml",
        group=f"""
group: ticking
core: {{thing: gateway, packages: [greengrasssdk]}}
devices: [{{thing: observer}}]
functions:
  - name: loop
    handler: lambda_function.function_handler
    code: "{test_lambdas / "module_loop"}"
    pinned: true
subscriptions:
  - {{source: function:loop, subject: loop/#, target: thing:observer}}
""",
    )
    pytester.makepyfile(
        """
        import time

        def test_time(gg_core):
            ticks = lambda: gg_core.device_messages("observer", "loop/tick")
            gg_core.wait_for(ticks)  # the loop ticks once at import, then every 5 simulated seconds
            start, seen = gg_core.clock.time(), len(ticks())
            time.sleep(2.0)  # wall time: the simulation does not move while the test does not wait on it
            assert (gg_core.clock.time(), len(ticks())) == (start, seen)
            gg_core.run_for(22.0)  # ticks due 5, 10, 15 and 20 s on
            assert gg_core.clock.time() == start + 22.0 and len(ticks()) == seen + 4
        """
    )
    result = pytester.runpytest("--group", "group.yaml", "--gg-mode", "fast", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_gg_group_marker_a_lambda_client_and_the_failure_report(pytester, test_lambdas):
    (pytester.path / "groups").mkdir()
    (pytester.path / "groups" / "greeter.yaml").write_text(
        f"""
group: greeter
core: {{thing: gateway, packages: [greengrasssdk]}}
functions:
  - name: greeter
    handler: lambda_function.function_handler
    code: "{test_lambdas / "bundled"}"
    version: 2
    alias: live
"""
    )
    pytester.makepyfile(
        """
        import json

        import pytest

        pytestmark = pytest.mark.gg_group("groups/greeter.yaml")
        ARN = "arn:aws:lambda:us-east-1:123456789012:function:greeter"

        def test_invoke_by_alias(gg_core, lambda_client):
            payload = json.dumps({"name": "m"})
            answer = lambda_client.invoke(FunctionName=ARN, Qualifier="live", Payload=payload)
            assert json.loads(answer["Payload"].read()) == {"text": "HELLO M!"}
            assert gg_core.group.name == "greeter"

        def test_a_failure_shows_the_functions(gg_core, lambda_client):
            lambda_client.invoke(FunctionName=ARN, Qualifier="2", Payload=json.dumps({"name": "x"}))
            assert False, "look at the report"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*raincheck functions*", "*function greeter: on-demand, 1 container(s)*"])


def test_junit_xml_carries_the_run_s_group_mode_backend_transport_and_git_revision(pytester):
    import subprocess
    import xml.etree.ElementTree as ElementTree

    pytester.makefile(
        ".yaml", group="group: props\ncore: {thing: gateway}\ndevices: [{thing: sensor}]\nfunctions: []\n"
    )
    pytester.makepyfile(
        """
        def test_with_core(gg_core):
            assert gg_core.core is not None

        def test_without_core():
            pass
        """
    )

    def properties(*args: str) -> tuple[dict, dict]:
        xml = pytester.path / "junit.xml"
        result = pytester.runpytest(
            "--group", "group.yaml", f"--junitxml={xml}", "-p", "no:cacheprovider", *args
        )
        result.assert_outcomes(passed=2)
        suite = ElementTree.parse(xml).getroot().find("testsuite")
        of = {
            case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
            for case in suite.iter("testcase")
        }
        return {p.get("name"): p.get("value") for p in suite.find("properties")}, of

    group = str(pytester.path / "group.yaml")
    suite, cases = properties("--transport", "direct")
    assert suite == {
        "raincheck_group": group,
        "raincheck_mode": "fast",
        "raincheck_sensor_backend": "simulated",
        "raincheck_transport": "direct",
        "raincheck_git_revision": "unknown",  # not a checkout
    }
    assert cases["test_with_core"] == suite and cases["test_without_core"] == {}

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run([*git, *command], cwd=pytester.path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pytester.path, capture_output=True, text=True)
    suite, cases = properties("--gg-mode", "faithful", "--sensor-backend", "recorded")
    assert suite["raincheck_git_revision"] == head.stdout.strip() != "unknown"
    assert suite["raincheck_mode"] == "faithful" and suite["raincheck_sensor_backend"] == "recorded"
    assert cases["test_with_core"]["raincheck_git_revision"] == head.stdout.strip()
