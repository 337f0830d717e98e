"""Read and check a standardiser + rain predictor pair of TF2 SavedModels (folders or zips), running none.

The tutorial's contract: each model serves `serving_default`; the standardiser maps `x` [k] or [n, k] to
`x_prime` of the same shape, the predictor maps `input` [n, k] to `y` [n, 1], all float32, k the number of
features: 3 (pressure, temperature, humidity) for the tutorial's models, else as many as the model
contract in the predictor's raincheck_model.json names (contract.py: features, units, threshold, history).
`checked_pair` is the one check of a pair, for the TensorFlow runner (tf_runner.py) and the LiteRT exporter
(ml_resources/export_litert.py) alike.

Only the SavedModel protobuf is parsed, through TensorFlow's generated module, imported lazily: no session,
no graph. The constants and ModelContractError are shared by every runtime, the LiteRT one included.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .contract import LEGACY_FEATURES, ContractError, ModelContract, parse_contract

FEATURE_ORDER = LEGACY_FEATURES  # a model without metadata: the tutorial's three readings
METADATA_FILE = "raincheck_model.json"
SIGNATURE_KEY = "serving_default"
SERVE_TAG = "serve"
LITERT_MODEL_FILE = "rain_model.tflite"  # the fused model inside a LiteRT rain model folder or zip

_DT_FLOAT = 1  # tensorflow.DataType.DT_FLOAT in the protobuf, without importing TensorFlow to name it
_UNKNOWN = -1


class Contract(NamedTuple):
    """The serving signature one model of the pair must have."""

    role: str
    input_name: str
    output_name: str
    row_wise_allowed: bool  # the input may be one reading [k] (the tutorial's standardiser)

    def input_shapes(self, width: int) -> tuple[tuple[int, ...], ...]:
        """Accepted input shapes for k = width features, -1 for any size."""
        return ((width,), (_UNKNOWN, width)) if self.row_wise_allowed else ((_UNKNOWN, width),)


STANDARDISER = Contract("standardiser", "x", "x_prime", True)
PREDICTOR = Contract("rain_predictor", "input", "y", False)
_PREDICTOR_OUTPUT_SHAPE = (_UNKNOWN, 1)


class ModelContractError(Exception):
    """A model file or folder does not meet the standardiser/predictor contract; the message says how."""


@dataclass(frozen=True)
class SavedModelPair:
    """A checked pair: the folders holding each saved_model.pb, and what the checks found."""

    standardiser_dir: Path
    predictor_dir: Path
    row_wise: bool  # the standardiser takes one reading of shape [k] (the tutorial's), not a batch
    metadata: dict[str, Any] | None  # the predictor's raincheck_model.json, parsed and checked
    contract: ModelContract  # the features the model takes (the tutorial's three without metadata)

    @property
    def width(self) -> int:
        return len(self.contract.features)


@contextmanager
def checked_pair(standardiser_path: str | Path, predictor_path: str | Path) -> Iterator[SavedModelPair]:
    """Check a standardiser + predictor pair, each a SavedModel folder or zip; zips are extracted into a
    scratch folder that lives until the `with` block ends. ModelContractError says what is wrong."""
    with tempfile.TemporaryDirectory(prefix="raincheck-model-") as scratch:
        standardiser_dir = _saved_model_dir(Path(standardiser_path), Path(scratch) / "standardiser")
        predictor_dir = _saved_model_dir(Path(predictor_path), Path(scratch) / "rain_predictor")
        metadata = _read_metadata(predictor_dir)
        contract = metadata_contract(metadata, str(predictor_dir / METADATA_FILE))
        width = len(contract.features)
        row_wise = _check_signature(standardiser_dir, STANDARDISER, width) == (width,)
        _check_signature(predictor_dir, PREDICTOR, width)
        yield SavedModelPair(standardiser_dir, predictor_dir, row_wise, metadata, contract)


def read_meta_graph(folder: Path) -> Any:
    """The meta graph tagged `serve` of folder/saved_model.pb (a protobuf message)."""
    from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415 - lazy: TensorFlow is heavy

    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((folder / "saved_model.pb").read_bytes())
    except Exception as error:  # protobuf raises its own DecodeError; any failure means the same thing
        raise ModelContractError(f"{folder}/saved_model.pb: not a SavedModel protobuf ({error})") from error
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ModelContractError(f"{folder}: no meta graph tagged {SERVE_TAG!r}")


def parse_metadata(raw: bytes, path: str) -> dict[str, Any]:
    """raincheck_model.json's content, checked: a threshold in [0, 1] and a model contract the inference
    Lambda can compute (contract.parse_contract)."""
    try:
        metadata = json.loads(raw.decode("utf-8"))
        threshold = float(metadata["threshold"])
        metadata["feature_order"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelContractError(f"{path}: unreadable model metadata ({error!r})") from error
    if not 0.0 <= threshold <= 1.0:
        raise ModelContractError(f"{path}: threshold {threshold} is not a probability")
    metadata_contract(metadata, path)
    return metadata


def metadata_contract(metadata: dict[str, Any] | None, path: str) -> ModelContract:
    """The model contract of (checked) metadata; ModelContractError naming the file otherwise."""
    try:
        return parse_contract(metadata)
    except ContractError as error:
        raise ModelContractError(f"{path}: {error}") from error


def _saved_model_dir(path: Path, scratch: Path) -> Path:
    """The folder holding saved_model.pb: the path itself, or the zip extracted into scratch."""
    if not path.exists():
        raise ModelContractError(f"{path}: no such file or folder")
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(scratch)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ModelContractError(f"{path}: not a readable zip ({error})") from error
        source = f"{path} (zip)"
        folder = scratch
    else:
        source = str(path)
        folder = path
    if not (folder / "saved_model.pb").is_file():
        nested = sorted(str(p.relative_to(folder)) for p in folder.rglob("saved_model.pb"))
        where = f"; found {nested[0]} - it must be at the root" if nested else ""
        if (folder / LITERT_MODEL_FILE).is_file():
            where = f"; it holds a LiteRT model ({LITERT_MODEL_FILE}): load it with runtime='litert'"
        raise ModelContractError(f"{source}: no saved_model.pb at the root{where}")
    return folder


def _shape_of(tensor_info: Any) -> tuple[int, ...] | None:
    shape = tensor_info.tensor_shape
    return None if shape.unknown_rank else tuple(int(d.size) for d in shape.dim)


def _describe(shape: tuple[int, ...] | None) -> str:
    return "unknown rank" if shape is None else str([None if d == _UNKNOWN else d for d in shape])


def _check_signature(folder: Path, contract: Contract, width: int) -> tuple[int, ...] | None:
    """Check the serving signature against the contract for `width` features; returns the input shape."""
    role, input_name, output_name, _ = contract
    input_shapes = contract.input_shapes(width)
    signatures = read_meta_graph(folder).signature_def
    if SIGNATURE_KEY not in signatures:
        # Keys like __saved_model_init_op are TF internals, not signatures a user chose.
        named = sorted(key for key in signatures if not key.startswith("__"))
        raise ModelContractError(f"{role} {folder}: no {SIGNATURE_KEY!r} signature (has {named or 'none'})")
    signature = signatures[SIGNATURE_KEY]
    if list(signature.inputs) != [input_name]:
        raise ModelContractError(
            f"{role} {folder}: signature inputs are {sorted(signature.inputs)}, expected [{input_name!r}]"
        )
    if output_name not in signature.outputs:
        raise ModelContractError(
            f"{role} {folder}: signature outputs are {sorted(signature.outputs)}, expected {output_name!r}"
        )
    expected_output_shapes = {(width,): ((width,),), (_UNKNOWN, width): ((_UNKNOWN, width),)}
    checks = [(input_name, signature.inputs[input_name], input_shapes)]
    output = signature.outputs[output_name]
    input_shape = _shape_of(signature.inputs[input_name])
    if role == PREDICTOR.role:
        checks.append((output_name, output, (_PREDICTOR_OUTPUT_SHAPE,)))
    elif input_shape in expected_output_shapes:
        checks.append((output_name, output, expected_output_shapes[input_shape]))
    for name, info, shapes in checks:
        if info.dtype != _DT_FLOAT:
            raise ModelContractError(
                f"{role} {folder}: {name!r} has dtype enum {info.dtype}, expected float32"
            )
        if _shape_of(info) not in shapes:
            wanted = " or ".join(_describe(s) for s in shapes)
            raise ModelContractError(
                f"{role} {folder}: {name!r} has shape {_describe(_shape_of(info))}, expected {wanted} "
                f"({width} features, as the model contract names them)"
            )
    return input_shape


def _read_metadata(folder: Path) -> dict[str, Any] | None:
    path = folder / METADATA_FILE
    return parse_metadata(path.read_bytes(), str(path)) if path.is_file() else None
