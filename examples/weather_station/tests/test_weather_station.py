"""The weather station's Lambdas under raincheck's emulated core, through the plugin's documented API only.

pytest --group group.yaml [--gg-mode fast|faithful]
"""

import json


def test_a_reading_reaches_the_display_in_both_units(gg_core):
    assert gg_core.publish("thing:station", "station/readings", {"temperature": 20.0}) == 1
    shown = gg_core.wait_for(lambda: gg_core.device_messages("display", "display/temperature"))
    assert [json.loads(payload) for _topic, payload in shown] == [{"c": 20.0, "f": 68.0}]
    assert "reading: 20.0 C" in gg_core.function_log("reader")
    assert gg_core.failures() == []


def test_the_reader_keeps_the_stations_shadow_and_it_syncs_to_the_cloud(gg_core):
    gg_core.publish("thing:station", "station/readings", {"temperature": 12.5})
    local = gg_core.wait_for(lambda: gg_core.shadow("station"))
    assert local["state"]["reported"] == {"temperature": 12.5}
    cloud = gg_core.wait_for(lambda: gg_core.cloud_shadow("station"))
    assert cloud["state"]["reported"] == {"temperature": 12.5}


def test_a_heat_wave_makes_the_reader_invoke_the_alerts_lambda(gg_core):
    gg_core.publish("thing:station", "station/readings", {"temperature": 35.0})
    alerts = gg_core.wait_for(lambda: gg_core.device_messages("display", "alerts/#"))
    assert alerts == [("alerts/heat", b'{"temperature": 35.0}')]


def test_the_alerts_lambda_answers_an_invocation_by_its_alias(lambda_client, gg_core):
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:alerts"
    answer = lambda_client.invoke(FunctionName=arn, Qualifier="live", Payload=json.dumps({"temperature": 40}))
    assert answer["FunctionError"] == ""
    gg_core.wait_for(lambda: gg_core.device_messages("display", "alerts/heat"))


def test_the_pinned_heartbeat_beats_once_per_period(gg_core):
    start = gg_core.clock.time()
    gg_core.run_for(11.0)  # five periods of 2 s, and a second to spare
    beats = [json.loads(payload) for _topic, payload in gg_core.cloud_messages("station/heartbeat")]
    if gg_core.mode == "fast":  # simulated time: exact, whatever the machine
        assert [b["beat"] for b in beats] == [1, 2, 3, 4, 5]
        assert [round(b["at"] - start, 6) for b in beats] == [2.0, 4.0, 6.0, 8.0, 10.0]
    else:  # real time: the heartbeat starts once its container is up
        assert 4 <= len(beats) <= 6 and [b["beat"] for b in beats] == list(range(1, len(beats) + 1))
