"""Load a standardiser + rain predictor pair behind one small API: RainModel, on TensorFlow or LiteRT.

Pure of greengrasssdk: the inference Lambda imports it, and so do the unit tests. Neither runtime's library
is imported here: TensorFlow costs seconds and hundreds of MB, and LiteRT needs none of it.

- runtime="tensorflow" (tf_runner.py): a SavedModel pair, folders or zips, checked by savedmodel.py and run
  through each model's `serving_default` signature.
- runtime="litert" (litert_runner.py): a ready LiteRT rain model, one fused flatbuffer with the standardiser
  folded in front of the predictor (a folder or zip holding rain_model.tflite). It is never converted here:
  `python ml_resources/export_litert.py` makes one from a SavedModel pair, with TensorFlow, off the gateway.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .contract import ContractError, ModelContract, Support, check_support
from .litert_runner import LiteRTRunner, read_resource
from .savedmodel import LITERT_MODEL_FILE, ModelContractError, checked_pair, metadata_contract, parse_metadata
from .tf_runner import TensorFlowRunner

__all__ = ["RUNTIMES", "ModelContractError", "RainModel", "Support", "load_model_pair"]

RUNTIMES = ("tensorflow", "litert")
EXPORT_COMMAND = "python ml_resources/export_litert.py"  # makes a LiteRT rain model from a SavedModel pair


class RainModel:
    """A loaded standardiser + predictor: feature rows in its contract's order -> P(rain). The tutorial's
    models (no metadata) take [pressure hPa, temperature °C, humidity %RH]."""

    def __init__(
        self,
        predict_batch: Callable[[np.ndarray], np.ndarray],
        metadata: dict[str, Any] | None,
        runtime: str,
        predict_one: Callable[..., float] | None = None,
        sources: tuple[str, ...] = (),
        contract: ModelContract | None = None,
    ) -> None:
        self._predict_batch = predict_batch
        self._predict_one = predict_one
        self.metadata = metadata
        self.contract = contract if contract is not None else metadata_contract(metadata, "metadata")
        self.width = len(self.contract.features)
        self.threshold: float | None = None if metadata is None else float(metadata["threshold"])
        self.runtime = runtime
        self.sources = sources  # the files it was loaded from (a fused LiteRT model: the predictor's only)

    def predict_proba(self, *features: float) -> float:
        """Probability of rain for one feature row (for the tutorial's models: pressure, temperature,
        humidity)."""
        if self._predict_one is not None:  # a runtime's own single-reading path, without batch building
            return self._predict_one(*features)
        return float(self.predict_proba_batch(np.array([features]))[0])

    def predict_proba_batch(self, features: np.ndarray) -> np.ndarray:
        """Probabilities of rain, shape [n], for feature rows of shape [n, k] in the contract's order."""
        rows = np.asarray(features, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"features must have shape [n, {self.width}], got {list(rows.shape)}")
        if not np.all(np.isfinite(rows)):
            raise ValueError("features must be finite numbers (a failed sensor read is not a reading)")
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return self._predict_batch(rows).reshape(-1)


def load_model_pair(
    standardiser_path: str | Path | None,
    predictor_path: str | Path,
    runtime: str = "tensorflow",
    support: Support | None = None,
) -> RainModel:
    """Load and check a rain model; ModelContractError says what is wrong with it.

    `support`: what the caller can compute for the model's contract (the Lambda: its ALTITUDE_M and
    whether it keeps a history); a contract needing more is refused, naming why. None: no such check
    (the features are computed elsewhere, as `raincheck evaluate` does from data).

    runtime="tensorflow": a standardiser + rain predictor SavedModel pair, each path a folder or a .zip.
    runtime="litert": predictor_path is a LiteRT rain model (rain_model.tflite at the root of the folder or
    zip), loaded without TensorFlow; its standardiser is folded in, so standardiser_path is not read. A
    SavedModel there is refused, not converted: EXPORT_COMMAND converts it.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if runtime == "litert":
        return _load_litert(predictor_path, support)
    if standardiser_path is None:
        raise ValueError("runtime='tensorflow' needs the standardiser's path")
    sources = (f"{standardiser_path}", f"{predictor_path}")
    with checked_pair(standardiser_path, predictor_path) as pair:
        _check_support(pair.contract, support, predictor_path)
        runner = TensorFlowRunner(pair)
    model = RainModel(runner.predict_batch, pair.metadata, runtime, sources=sources, contract=pair.contract)
    _check_outputs_are_probabilities(model, predictor_path)
    return model


def _check_support(contract: ModelContract, support: Support | None, source: str | Path) -> None:
    if support is None:
        return
    try:
        check_support(contract, support)
    except ContractError as error:
        raise ModelContractError(f"{source}: {error}") from error


def _load_litert(predictor_path: str | Path, support: Support | None = None) -> RainModel:
    source = f"{predictor_path}"
    resource = read_resource(Path(predictor_path))
    if resource is None:
        raise ModelContractError(
            f"{source}: no LiteRT model ({LITERT_MODEL_FILE}) at its root, and runtime='litert' never "
            f"converts a SavedModel pair: convert it first with `{EXPORT_COMMAND}` (needs TensorFlow) "
            "and load the zip it writes, or use runtime='tensorflow'"
        )
    content, raw_metadata = resource
    metadata = None if raw_metadata is None else parse_metadata(raw_metadata, source)
    contract = metadata_contract(metadata, source)
    _check_support(contract, support, source)
    runner = LiteRTRunner(content, source, width=len(contract.features))
    model = RainModel(
        runner.predict_batch,
        metadata,
        "litert",
        predict_one=runner.predict_one,
        sources=(source,),
        contract=contract,
    )
    _check_outputs_are_probabilities(model, source)
    return model


def _check_outputs_are_probabilities(model: RainModel, predictor_path: str | Path) -> None:
    """A predictor whose y is not a probability (say, a logit) would make thresholds meaningless."""
    # Through the single-reading path, the one the Lambda uses (LiteRT's batch interpreter stays unbuilt):
    # a typical row of the contract's features, and one with every value 10 % higher.
    typical = model.contract.typical_row()
    outputs = np.array([model.predict_proba(*typical), model.predict_proba(*[1.1 * v for v in typical])])
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in outputs):
        raise ModelContractError(f"rain_predictor {predictor_path}: 'y' is not a probability ({outputs})")
