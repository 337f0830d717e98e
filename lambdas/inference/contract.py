"""The model contract: what a rain model takes, in which units, and what the inference Lambda must compute
for it (contract.md in ml_resources/README.md). Read from the predictor's raincheck_model.json:

    "feature_order": ["sea_level_pressure_hpa", "temperature_c", ...],      # the model's inputs, in order
    "feature_units": {"sea_level_pressure_hpa": "hPa", ...},                # optional; checked when given
    "history": {"window_s": 10800, "tolerance_s": 900, "when_missing": "fallback"}  # with tendencies
    "threshold": 0.3

A model without metadata (the tutorial's 2020 pair) takes the three raw readings, station pressure first.
The Lambda knows how to compute the features in FEATURES and nothing else; `check_support` refuses a
contract the Lambda cannot meet where it runs (no altitude configured, no history kept), naming why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .features import History, sea_level_pressure_hpa

ALTITUDE = "altitude"  # needs the gateway's altitude (ALTITUDE_M)
HISTORY = "history"  # needs readings of about 3 h earlier (a history, kept on a read-write resource)
TENDENCY_WINDOW_S = 3 * 3600.0
WHEN_MISSING = ("fallback", "wait")
LEGACY_FEATURES = ("pressure_hpa", "temperature_c", "humidity_rh")


@dataclass(frozen=True)
class FeatureSpec:
    unit: str
    needs: frozenset[str]
    meaning: str
    typical: float  # a plausible value, for the loader's probability check


def _spec(unit: str, needs: tuple[str, ...], meaning: str, typical: float) -> FeatureSpec:
    return FeatureSpec(unit, frozenset(needs), meaning, typical)


# Everything the inference Lambda can compute, by name. Tendencies are of the sea-level values.
FEATURES: dict[str, FeatureSpec] = {
    "pressure_hpa": _spec("hPa", (), "station pressure, as the sensor measures it", 1013.0),
    "temperature_c": _spec("°C", (), "air temperature (compensated)", 12.0),
    "humidity_rh": _spec("%RH", (), "relative humidity", 80.0),
    "sea_level_pressure_hpa": _spec(
        "hPa", (ALTITUDE,), "station pressure reduced to mean sea level with ALTITUDE_M", 1013.0
    ),
    "pressure_tendency_3h_hpa": _spec(
        "hPa", (ALTITUDE, HISTORY), "sea-level pressure now minus about 3 h earlier", -1.0
    ),
    "temperature_tendency_3h_c": _spec("°C", (HISTORY,), "temperature now minus about 3 h earlier", 0.5),
    "humidity_tendency_3h_rh": _spec("%RH", (HISTORY,), "humidity now minus about 3 h earlier", 2.0),
    "history_3h_available": _spec(
        "1", (HISTORY,), "1 when the 3 h tendencies come from history, 0 when they are the fallback's 0", 1.0
    ),
}
# The base series a tendency is the change of, and what the history keeps.
TENDENCY_OF = {
    "pressure_tendency_3h_hpa": "sea_level_pressure_hpa",
    "temperature_tendency_3h_c": "temperature_c",
    "humidity_tendency_3h_rh": "humidity_rh",
}
HISTORY_NAMES = ("sea_level_pressure_hpa", "temperature_c", "humidity_rh")


class ContractError(ValueError):
    """A contract that is malformed, or that the Lambda cannot meet; the message says why."""


@dataclass(frozen=True)
class ModelContract:
    features: tuple[str, ...]
    units: Mapping[str, str]
    window_s: float | None = None  # the history's window, when a feature needs history
    tolerance_s: float = 900.0
    when_missing: str = "fallback"

    @property
    def needs(self) -> frozenset[str]:
        return frozenset().union(*(FEATURES[name].needs for name in self.features))

    def typical_row(self) -> list[float]:
        return [FEATURES[name].typical for name in self.features]

    def describe(self) -> str:
        return ", ".join(f"{name} ({self.units[name]})" for name in self.features)


LEGACY_CONTRACT = ModelContract(LEGACY_FEATURES, {n: FEATURES[n].unit for n in LEGACY_FEATURES})


def parse_contract(metadata: Mapping[str, Any] | None) -> ModelContract:
    """The contract in a model's metadata (LEGACY_CONTRACT without metadata); ContractError if malformed
    or naming a feature the Lambda cannot compute."""
    if metadata is None:
        return LEGACY_CONTRACT
    order = metadata.get("feature_order")
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        raise ContractError(f"feature_order must be a non-empty list of feature names, got {order!r}")
    if len(set(order)) != len(order):
        raise ContractError(f"feature_order names a feature twice: {order}")
    unknown = [name for name in order if name not in FEATURES]
    if unknown:
        raise ContractError(
            f"the inference Lambda cannot compute feature(s) {', '.join(map(repr, unknown))}; "
            f"it computes {', '.join(FEATURES)}"
        )
    units = metadata.get("feature_units", {})
    if not isinstance(units, dict):
        raise ContractError(f"feature_units must be a mapping of feature to unit, got {units!r}")
    for name, unit in units.items():
        if name not in order:
            raise ContractError(f"feature_units names {name!r}, which is not in feature_order")
        if unit != FEATURES[name].unit:
            raise ContractError(
                f"feature {name!r} is in {unit!r}, but the inference Lambda computes it in "
                f"{FEATURES[name].unit!r}"
            )
    contract = ModelContract(tuple(order), {n: FEATURES[n].unit for n in order})
    history = metadata.get("history")
    if HISTORY not in contract.needs:
        if history is not None:
            raise ContractError("history is given but no feature in feature_order needs one")
        return contract
    if not isinstance(history, dict):
        raise ContractError(
            "feature(s) need a history (tendencies): the metadata must give "
            '"history": {"window_s": 10800, "tolerance_s": ..., "when_missing": "fallback" or "wait"}'
        )
    try:
        window_s = float(history["window_s"])
        tolerance_s = float(history.get("tolerance_s", 900.0))
        when_missing = history.get("when_missing", "fallback")
    except (KeyError, TypeError, ValueError) as error:
        raise ContractError(f"history is unreadable ({error!r})") from error
    if window_s != TENDENCY_WINDOW_S:
        raise ContractError(
            f"the features' tendencies are over 3 h (10800 s), history.window_s is {window_s:g}"
        )
    if not 0 <= tolerance_s <= window_s / 4:
        raise ContractError(f"history.tolerance_s {tolerance_s:g} must be within 0..{window_s / 4:g} s")
    if when_missing not in WHEN_MISSING:
        raise ContractError(
            f"history.when_missing must be one of {', '.join(WHEN_MISSING)}, got {when_missing!r}"
        )
    if when_missing == "fallback" and "history_3h_available" not in order:
        raise ContractError(
            "history.when_missing 'fallback' feeds 0 tendencies without history: the model must take "
            "history_3h_available to tell them apart (or use 'wait')"
        )
    return ModelContract(contract.features, contract.units, window_s, tolerance_s, when_missing)


@dataclass(frozen=True)
class Support:
    """What the Lambda can compute where it runs: the altitude it was given, whether it keeps a history."""

    altitude_m: float | None
    history: bool


def check_support(contract: ModelContract, support: Support) -> None:
    """ContractError naming each thing the contract needs that `support` lacks."""
    reasons = []
    if ALTITUDE in contract.needs and support.altitude_m is None:
        users = [n for n in contract.features if ALTITUDE in FEATURES[n].needs]
        reasons.append(f"{', '.join(users)} need(s) the gateway's altitude: set ALTITUDE_M (metres)")
    if HISTORY in contract.needs and not support.history:
        users = [n for n in contract.features if HISTORY in FEATURES[n].needs]
        reasons.append(
            f"{', '.join(users)} need(s) a history of readings: set HISTORY_PATH to a file on a read-write "
            "local resource attached to the function"
        )
    if reasons:
        raise ContractError("the inference Lambda cannot meet the model's contract: " + "; ".join(reasons))


class FeatureBuilder:
    """Readings -> the model's feature rows, per its contract. One per series (a gateway, a station)."""

    def __init__(
        self, contract: ModelContract, altitude_m: float | None = None, history: History | None = None
    ):
        check_support(contract, Support(altitude_m, history is not None))
        wanted = (HISTORY_NAMES, contract.window_s)
        if history is not None and HISTORY in contract.needs and (history.names, history.window_s) != wanted:
            raise ContractError(
                f"history keeps {history.names} over {history.window_s:g} s, not what the contract needs"
            )
        self.contract = contract
        self.altitude_m = altitude_m
        self.history = history if HISTORY in contract.needs else None

    def features(
        self, time_s: float, pressure_hpa: float, temperature_c: float, humidity_rh: float
    ) -> list[float] | None:
        """The feature row for one reading (and the reading into the history); None while the contract
        says to wait for history."""
        values = {"pressure_hpa": pressure_hpa, "temperature_c": temperature_c, "humidity_rh": humidity_rh}
        if self.altitude_m is not None:
            values["sea_level_pressure_hpa"] = sea_level_pressure_hpa(
                pressure_hpa, self.altitude_m, temperature_c
            )
        if self.history is not None:
            earlier = {name: self.history.value_before(name, time_s) for name in HISTORY_NAMES}
            available = all(value is not None for value in earlier.values())
            # Without an altitude no feature uses sea-level pressure; NaN keeps the history's shape.
            self.history.add(time_s, {name: values.get(name, math.nan) for name in HISTORY_NAMES})
            if not available and self.contract.when_missing == "wait":
                return None
            for tendency, base in TENDENCY_OF.items():
                before = earlier[base]
                values[tendency] = 0.0 if before is None or not available else values[base] - before
            values["history_3h_available"] = 1.0 if available else 0.0
        return [values[name] for name in self.contract.features]


def feature_rows(
    contract: ModelContract,
    series: Sequence[tuple[float, float, float, float]],
    altitude_m: float | None = None,
) -> list[list[float] | None]:
    """Feature rows of one series of (time_s, pressure, temperature, humidity) in time order, through a
    fresh in-memory history (what a Lambda started before the first reading would compute)."""
    history = (
        History(HISTORY_NAMES, contract.window_s, contract.tolerance_s)
        if HISTORY in contract.needs and contract.window_s
        else None
    )
    builder = FeatureBuilder(contract, altitude_m, history)
    return [builder.features(*reading) for reading in series]
