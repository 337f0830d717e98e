"""What real logs contain, through the recorded backend: each fault repaired, kept or skipped, logged with
its file and line, counted by kind; strict=True stops at the first; and what `record` writes reads back
exactly, metadata included."""

import logging
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raincheck.device import constants
from raincheck.device.reading import Reading
from raincheck.device.recorder import record
from raincheck.device.recording import FAULT_KINDS, RAINCHECK_HEADER, RowError, parse_raincheck_row
from raincheck.device.sensors.base import RecordingExhausted, Sensor
from raincheck.device.sensors.recorded import RecordedSensor, RecordingFault

HEADER = ",".join(RAINCHECK_HEADER)
GOOD = Reading(20.0, 1000.0, 50.0)

# One log with every fault, line by line: (line, what it holds, what the replay makes of it).
FAULTY_LOG = (
    b'# backend: "simulated"\n'  # 1 metadata
    b"# period_s: 10.0\n" + HEADER.encode() + b"\n"  # 2  # 3 header
    b"0.0,20.0,1000.0,50.0,1\n"  # 4 good
    b"10.0,21.5 C,1013.2hPa,45%,1\n"  # 5 unit suffixes: repaired
    b"\x00\x00\x00\x00\x00\x00\x00\x00\n"  # 6 NUL padding of an interrupted write: nothing left
    b"\x00\x00\x0020.0,22.0,101325,55.0,1\n"  # 7 NUL bytes stripped, then pressure in Pa: repaired
    b"30.0,20.0,1000.0,50.0,1\n"  # 8 good
    b"90.0,19.0,999.0,60.0,1\n"  # 9 a 60 s gap: kept
    b"80.0,18.0,998.0,61.0,1\n"  # 10 time went backwards: kept, in file order
    b"90.0,warm,1000.0,50.0,1\n"  # 11 unparseable: skipped
    b"100.0,17.0,997.0,62.0,1\n"  # 12 20 s after the last kept row, the skipped row's period: no gap
    b"110.0,17.0,99"  # 13 truncated last line: skipped
)
EXPECTED_READINGS = [
    GOOD,
    Reading(21.5, 1013.2, 45.0),
    Reading(22.0, 1013.25, 55.0),
    GOOD,
    Reading(19.0, 999.0, 60.0),
    Reading(18.0, 998.0, 61.0),
    Reading(17.0, 997.0, 62.0),
]
EXPECTED_FAULTS = [
    (5, "unit_suffix"),
    (5, "unit_suffix"),
    (5, "unit_suffix"),
    (6, "nul_bytes"),
    (7, "nul_bytes"),
    (7, "pressure_pa"),
    (9, "gap"),
    (10, "time_backwards"),
    (11, "unparseable"),
    (13, "truncated"),
]


@pytest.fixture
def faulty_log(tmp_path: Path) -> Path:
    path = tmp_path / "faulty.csv"
    path.write_bytes(FAULTY_LOG)
    return path


def test_each_fault_is_repaired_kept_or_skipped_and_logged_with_file_and_line(faulty_log, caplog):
    with caplog.at_level(logging.WARNING, logger="raincheck.device.sensors.recorded"):
        sensor = RecordedSensor(faulty_log)
    assert [sensor.read() for _ in range(sensor.row_count)] == EXPECTED_READINGS
    with pytest.raises(RecordingExhausted):
        sensor.read()
    assert [(line, fault.kind) for line, fault in sensor.faults] == EXPECTED_FAULTS
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == len(EXPECTED_FAULTS)
    for message, (line, kind) in zip(logged, EXPECTED_FAULTS, strict=True):
        assert message.startswith(f"{faulty_log}:{line}: {kind}, {FAULT_KINDS[kind][0]}: ")
    assert "'21.5 C'" in logged[0] and "'101325' is in Pa" in logged[5] and "60 s" in logged[6]
    assert "unfinished last line" in logged[-1]


def test_the_summary_counts_rows_by_kind(faulty_log):
    sensor = RecordedSensor(faulty_log)
    for _ in range(3):
        sensor.read()
    summary = sensor.summary()
    # Rows: lines 4-5 and 7-13 (line 6 held only NUL bytes); a row with three unit suffixes counts once.
    assert (summary.rows, summary.kept, summary.skipped, summary.replayed) == (9, 7, 2, 3)
    assert summary.faults == {
        "nul_bytes": 2,
        "unit_suffix": 1,
        "pressure_pa": 1,
        "gap": 1,
        "time_backwards": 1,
        "truncated": 1,
        "unparseable": 1,
    }
    text = summary.lines()
    assert text[0] == f"{faulty_log}: 9 rows (raincheck), 7 kept, 2 skipped; 3 readings replayed"
    assert len(text) == 1 + 7 and any(line.startswith("  truncated: 1 skipped (") for line in text)


def test_the_replay_keeps_the_recordings_timing_through_gaps_and_backward_steps(faulty_log):
    sensor = RecordedSensor(faulty_log)
    intervals = []
    while sensor.remaining:
        sensor.read()
        intervals.append(sensor.next_interval_s())
    # 10 -> 20 -> 30 s, the 60 s gap, back to 80 s (one period), 100 s after 80 s (20 s), end.
    assert intervals == [10.0, 10.0, 10.0, 60.0, 10.0, 20.0, None]


def test_strict_fails_at_the_first_fault_naming_file_line_and_problem(faulty_log, caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(RecordingFault) as failure:
        RecordedSensor(faulty_log, strict=True)
    assert (failure.value.path, failure.value.line, failure.value.kind) == (faulty_log, 5, "unit_suffix")
    assert str(failure.value).startswith(f"{faulty_log}:5: unit_suffix: temperature_c '21.5 C'")
    assert caplog.records == []  # nothing repaired, nothing replayed


@pytest.mark.parametrize(
    ("rows", "line", "kind"),
    [
        (b"0,20.0,1000.0,50.0,1\n\x0010,20.0,1000.0,50.0,1\n", 3, "nul_bytes"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,1000.0,50.0 %RH,1\n", 3, "unit_suffix"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,100000,50.0,1\n", 3, "pressure_pa"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,1000.0,50.0,1\n50,20.0,1000.0,50.0,1\n", 4, "gap"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,1000.0,50.0,1\n5,20.0,1000.0,50.0,1\n", 4, "time_backwards"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,1000.0,5", 3, "truncated"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,1000.0\n20,20.0,1000.0,50.0,1\n", 3, "truncated"),
        (b"0,20.0,1000.0,50.0,1\n10,20.0,5000.0,50.0,1\n", 3, "unparseable"),
        (b"0,20.0,1000.0,50.0,1\n10,21.5 hPa,1000.0,50.0,1\n", 3, "unparseable"),  # wrong unit
    ],
)
def test_strict_fails_on_each_kind_alone(tmp_path, rows, line, kind):
    path = tmp_path / "one.csv"
    path.write_bytes(HEADER.encode() + b"\n" + rows)  # no metadata: the period is the median step, 10 s
    with pytest.raises(RecordingFault) as failure:
        RecordedSensor(path, strict=True)
    assert (failure.value.line, failure.value.kind) == (line, kind)
    lenient = RecordedSensor(path)
    assert [(n, fault.kind) for n, fault in lenient.faults] == [(line, kind)]


def test_an_esp32_log_gets_the_same_repairs(tmp_path):
    path = tmp_path / "esp.csv"
    path.write_bytes(
        b"1601927571,317615,101112.0,89880.0,383.15,2,23.4,61.42,351.25,3512.52,69.31\n"
        b"\x00\x00\x00\x001601927574,320614,1011.13 hPa,89783.0,380.53,2,23.4 C,61.39%,349.91,3499.08,67.92\n"
        b"1601927577,323614,101112.0,90172.0,377.63,2,23.41,61.32,348.29,3482.93,66.28\n"
        b"1601927580,326614,1011"
    )
    sensor = RecordedSensor(path)
    assert sensor.format == "esp32"
    assert [sensor.read() for _ in range(sensor.row_count)] == [
        Reading(23.4, 1011.12, 61.42),
        Reading(23.4, 1011.13, 61.39),
        Reading(23.41, 1011.12, 61.32),
    ]
    assert sensor.summary().faults == {"nul_bytes": 1, "unit_suffix": 1, "truncated": 1}


def test_parsers_without_a_repairs_list_refuse_what_would_need_repair():
    # The serial backend parses lines this way: a unit or a pressure in Pa is an error there.
    with pytest.raises(RowError) as unit:
        parse_raincheck_row(["0", "21.5C", "1000", "50", "1"])
    with pytest.raises(RowError) as pascal:
        parse_raincheck_row(["0", "21.5", "101325", "50", "1"])
    assert (unit.value.kind, pascal.value.kind) == ("unit_suffix", "pressure_pa")
    repairs: list = []
    assert parse_raincheck_row(["0", "21.5C", "101325", "50", "1"], repairs)[1] == Reading(
        21.5, 1013.25, 50.0
    )
    assert [fault.kind for fault in repairs] == ["unit_suffix", "pressure_pa"]


# -- nothing silently dropped: whatever is done to a log, every row is replayed or counted skipped ----------

_MANGLE = st.sampled_from(
    [
        lambda line: line,
        lambda line: b"\x00" * 5 + line,
        lambda line: line[: len(line) // 2],
        lambda line: line.replace(b",1\n", b",maybe\n"),
        lambda line: line.replace(b",", b"", 1),
        lambda line: b"",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mangles=st.lists(_MANGLE, min_size=1, max_size=12), cut_end=st.booleans())
def test_every_row_is_replayed_or_counted(tmp_path, mangles, cut_end):
    lines = [f"{10 * i:.1f},20.0,1000.0,50.0,1\n".encode() for i in range(len(mangles))]
    body = b"".join(mangle(line) for mangle, line in zip(mangles, lines, strict=True))
    if cut_end:
        body = body.rstrip(b"\n")
    path = tmp_path / "mangled.csv"
    path.write_bytes(HEADER.encode() + b"\n" + body)
    summary = RecordedSensor(path).summary()
    assert summary.rows == summary.kept + summary.skipped


# -- round trip: what `record` writes reads back exactly, metadata included --------------------------------


class _ListSensor(Sensor):
    def __init__(self, readings: list[Reading]) -> None:
        self._readings = iter(readings)

    def read(self) -> Reading:
        return next(self._readings)


def _bounded(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


_READINGS = st.one_of(
    st.just(Reading.failed()),
    st.builds(
        Reading,
        _bounded(constants.TEMPERATURE_MIN_C, constants.TEMPERATURE_MAX_C),
        _bounded(constants.PRESSURE_MIN_HPA, constants.PRESSURE_MAX_HPA),
        _bounded(constants.HUMIDITY_MIN_RH, constants.HUMIDITY_MAX_RH),
    ),
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),  # any text: newlines, NUL, line separators must not break the line
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_METADATA = st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True), _JSON, max_size=6)


@settings(max_examples=80, deadline=None)
@given(
    readings=st.lists(_READINGS, max_size=30),
    metadata=_METADATA,
    period_s=st.sampled_from([0.5, 1.0, 3.0, 10.0, 60.0]),
)
def test_what_record_writes_reads_back_exactly(tmp_path_factory, readings, metadata, period_s):
    path = tmp_path_factory.mktemp("round") / "trip.csv"
    metadata = {**metadata, "period_s": period_s}  # as `raincheck record` writes it: the nominal period
    written = record(_ListSensor(readings), path, len(readings), period_s=period_s, metadata=metadata)
    replay = RecordedSensor(path, strict=True)  # a recorder's file has no fault at all
    assert written == replay.row_count == len(readings)
    assert replay.metadata == metadata
    assert replay.format == "raincheck" and replay.faults == []
    back = []
    for _ in readings:
        back.append(replay.read())
        assert math.isclose(replay.time_s, (len(back) - 1) * period_s)
    assert back == readings


def test_strict_given_as_text_is_read_as_a_flag(faulty_log):
    # --sensor-option strict=false arrives as the string "false", which must not turn strict on.
    assert RecordedSensor(faulty_log, strict="false").row_count == len(EXPECTED_READINGS)
    with pytest.raises(RecordingFault):
        RecordedSensor(faulty_log, strict="true")
    with pytest.raises(ValueError, match="strict must be true or false"):
        RecordedSensor(faulty_log, strict="sometimes")
