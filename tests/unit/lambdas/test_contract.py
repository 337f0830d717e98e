"""The model contract: each way a contract is malformed or cannot be met is refused, naming why."""

from __future__ import annotations

import pytest

from raincheck.lambdas.inference.contract import (
    LEGACY_CONTRACT,
    ContractError,
    FeatureBuilder,
    Support,
    check_support,
    parse_contract,
)
from raincheck.lambdas.inference.features import History

TENDENCIES = {
    "threshold": 0.3,
    "feature_order": ["sea_level_pressure_hpa", "temperature_tendency_3h_c", "history_3h_available"],
    "feature_units": {"sea_level_pressure_hpa": "hPa"},
    "history": {"window_s": 10800, "tolerance_s": 600, "when_missing": "fallback"},
}


def with_(**changes: object) -> dict:
    return {**TENDENCIES, **changes}


def test_no_metadata_is_the_tutorials_three_readings() -> None:
    assert parse_contract(None) == LEGACY_CONTRACT
    assert LEGACY_CONTRACT.features == ("pressure_hpa", "temperature_c", "humidity_rh")
    check_support(LEGACY_CONTRACT, Support(altitude_m=None, history=False))  # needs nothing


def test_a_good_contract_is_read() -> None:
    contract = parse_contract(TENDENCIES)
    assert contract.window_s == 10800 and contract.tolerance_s == 600
    assert contract.needs == {"altitude", "history"}


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (with_(feature_order=["dew_point_c"]), "cannot compute feature.*'dew_point_c'"),
        (with_(feature_order=[]), "non-empty list"),
        (with_(feature_order=["temperature_c", "temperature_c"]), "twice"),
        (with_(feature_units={"sea_level_pressure_hpa": "Pa"}), "in 'Pa'.*computes it in 'hPa'"),
        (with_(feature_units={"humidity_rh": "%RH"}), "not in feature_order"),
        (with_(history=None), "need a history"),
        (with_(history={"window_s": 3600}), "over 3 h"),
        (with_(history={"window_s": 10800, "tolerance_s": 5000}), "tolerance_s"),
        (with_(history={"window_s": 10800, "when_missing": "guess"}), "when_missing must be one of"),
        (
            with_(feature_order=["temperature_tendency_3h_c"], feature_units={}),
            "fallback.*must take history_3h_available",
        ),
        (
            {"threshold": 0.3, "feature_order": ["temperature_c"], "history": {"window_s": 10800}},
            "no feature in feature_order needs one",
        ),
    ],
)
def test_malformed_contracts_are_refused_naming_why(metadata: dict, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        parse_contract(metadata)


@pytest.mark.parametrize(
    ("support", "reasons"),
    [
        (Support(altitude_m=None, history=True), ["ALTITUDE_M"]),
        (Support(altitude_m=10.0, history=False), ["HISTORY_PATH"]),
        (Support(altitude_m=None, history=False), ["ALTITUDE_M", "HISTORY_PATH"]),
    ],
)
def test_a_contract_the_lambda_cannot_meet_is_refused_naming_each_lack(support, reasons) -> None:
    with pytest.raises(ContractError, match="cannot meet") as refused:
        check_support(parse_contract(TENDENCIES), support)
    for reason in reasons:
        assert reason in str(refused.value)
    check_support(parse_contract(TENDENCIES), Support(altitude_m=10.0, history=True))


def test_the_feature_builder_checks_support_too() -> None:
    with pytest.raises(ContractError, match="ALTITUDE_M"):
        FeatureBuilder(parse_contract(TENDENCIES), altitude_m=None, history=None)
    builder = FeatureBuilder(
        parse_contract(TENDENCIES), 0.0, History(("sea_level_pressure_hpa", "temperature_c", "humidity_rh"))
    )
    assert builder.features(0.0, 1000.0, 10.0, 80.0) == [1000.0, 0.0, 0.0]
