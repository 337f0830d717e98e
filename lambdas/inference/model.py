"""Load a standardiser + rain predictor pair (TF2 SavedModels, folders or zips) behind one small API.

Pure of greengrasssdk: the inference Lambda imports it, and so do the unit tests. TensorFlow is imported
lazily because it costs seconds and hundreds of MB, and LiteRT needs none of it.

Both runtimes run each model through its `serving_default` signature. The TensorFlow runtime uses the
TF1-style signature loader in a private graph and session: `tf.saved_model.load` cannot revive Keras
models saved before TF 2.5 (the tutorial's 2020 rain predictor fails with "no attribute 'add_slot'"),
while the signature graph loads from every TF2 SavedModel and leaves the process's eager mode alone.
The LiteRT runtime (`runtime="litert"`, litert.py) runs one fused flatbuffer, standardiser folded in front
of the predictor: loaded as it is, without importing TensorFlow, when the predictor path is a LiteRT rain
model (a folder or zip holding rain_model.tflite, as export_litert_model writes), or converted from the
SavedModel pair (which needs TensorFlow) otherwise.
"""

from __future__ import annotations

import json
import math
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FEATURE_ORDER = ("pressure_hpa", "temperature_c", "humidity_rh")
METADATA_FILE = "raincheck_model.json"
SIGNATURE_KEY = "serving_default"
SERVE_TAG = "serve"
RUNTIMES = ("tensorflow", "litert")
LITERT_MODEL_FILE = "rain_model.tflite"  # the fused model inside a LiteRT rain model folder or zip
_ZIP_TIME = (2017, 1, 1, 0, 0, 0)  # fixed member timestamps: the same model gives the same zip bytes

_DT_FLOAT = 1  # tensorflow.DataType.DT_FLOAT in the protobuf, without importing TensorFlow to name it
_UNKNOWN = -1
# Signature contract of the tutorial: (input name, output name, accepted input shapes, output shape rule).
_STANDARDISER = ("standardiser", "x", "x_prime", ((3,), (_UNKNOWN, 3)))
_PREDICTOR = ("rain_predictor", "input", "y", ((_UNKNOWN, 3),))
_PREDICTOR_OUTPUT_SHAPE = (_UNKNOWN, 1)


class ModelContractError(Exception):
    """A model file or folder does not meet the standardiser/predictor contract; the message says how."""


class RainModel:
    """A loaded standardiser + predictor: readings [pressure hPa, temperature °C, humidity %RH] -> P(rain)."""

    def __init__(
        self,
        predict_batch: Callable[[np.ndarray], np.ndarray],
        metadata: dict[str, Any] | None,
        runtime: str,
        predict_one: Callable[[float, float, float], float] | None = None,
        sources: tuple[str, ...] = (),
    ) -> None:
        self._predict_batch = predict_batch
        self._predict_one = predict_one
        self.metadata = metadata
        self.threshold: float | None = None if metadata is None else float(metadata["threshold"])
        self.runtime = runtime
        self.sources = sources  # the files it was loaded from (a fused LiteRT model: the predictor's only)

    def predict_proba(self, pressure_hpa: float, temperature_c: float, humidity_rh: float) -> float:
        """Probability of rain for one reading."""
        if self._predict_one is not None:  # a runtime's own single-reading path, without batch building
            return self._predict_one(pressure_hpa, temperature_c, humidity_rh)
        return float(self.predict_proba_batch(np.array([[pressure_hpa, temperature_c, humidity_rh]]))[0])

    def predict_proba_batch(self, features: np.ndarray) -> np.ndarray:
        """Probabilities of rain, shape [n], for readings of shape [n, 3] in FEATURE_ORDER."""
        rows = np.asarray(features, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != 3:
            raise ValueError(f"features must have shape [n, 3], got {list(rows.shape)}")
        if not np.all(np.isfinite(rows)):
            raise ValueError("features must be finite numbers (a failed sensor read is not a reading)")
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return self._predict_batch(rows).reshape(-1)


def load_model_pair(
    standardiser_path: str | Path, predictor_path: str | Path, runtime: str = "tensorflow"
) -> RainModel:
    """Load and check a standardiser + rain predictor pair; each path is a SavedModel folder or a .zip.

    With runtime="litert", a predictor path holding a LiteRT rain model (rain_model.tflite at the root of
    the folder or zip) is loaded as it is, without TensorFlow; its standardiser is folded in, so
    standardiser_path is not read. Otherwise the SavedModel pair is converted, which needs TensorFlow.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if runtime == "litert":
        from .litert import read_resource  # noqa: PLC0415 - keeps the TensorFlow runtime free of LiteRT

        ready = read_resource(Path(predictor_path))
        if ready is not None:
            metadata = None if ready[1] is None else _parse_metadata(ready[1], f"{predictor_path}")
            return _litert_model(ready[0], metadata, (f"{predictor_path}",))
    with tempfile.TemporaryDirectory(prefix="raincheck-model-") as scratch:
        standardiser_dir = _saved_model_dir(Path(standardiser_path), Path(scratch) / "standardiser")
        predictor_dir = _saved_model_dir(Path(predictor_path), Path(scratch) / "rain_predictor")
        row_wise = _check_signature(standardiser_dir, _STANDARDISER) == (3,)
        _check_signature(predictor_dir, _PREDICTOR)
        metadata = _read_metadata(predictor_dir)
        if runtime == "litert":
            from .litert import fuse_pair  # noqa: PLC0415

            content = fuse_pair(standardiser_dir, predictor_dir, (_STANDARDISER, _PREDICTOR), row_wise)
            return _litert_model(content, metadata, (f"{standardiser_path}", f"{predictor_path}"))
        standardise = _signature_runner(*_load_session(standardiser_dir, _STANDARDISER), row_wise=row_wise)
        predict = _signature_runner(*_load_session(predictor_dir, _PREDICTOR), row_wise=False)
    sources = (f"{standardiser_path}", f"{predictor_path}")
    model = RainModel(lambda rows: predict(standardise(rows)), metadata, runtime, sources=sources)
    _check_outputs_are_probabilities(model, predictor_path)
    return model


def _litert_model(content: bytes, metadata: dict[str, Any] | None, sources: tuple[str, ...]) -> RainModel:
    from .litert import LiteRTRunner  # noqa: PLC0415

    runner = LiteRTRunner(content, sources[-1])
    model = RainModel(
        runner.predict_batch, metadata, "litert", predict_one=runner.predict_one, sources=sources
    )
    _check_outputs_are_probabilities(model, sources[-1])
    return model


def export_litert_model(
    standardiser_path: str | Path, predictor_path: str | Path, zip_path: str | Path
) -> Path:
    """Check a SavedModel pair, fuse it, and write a LiteRT rain model zip (rain_model.tflite + metadata).

    The zip is an ML resource like the SavedModel zips; its bytes depend only on the models and the
    converter version (fixed member order and timestamps).
    """
    from .litert import fuse_pair  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="raincheck-model-") as scratch:
        standardiser_dir = _saved_model_dir(Path(standardiser_path), Path(scratch) / "standardiser")
        predictor_dir = _saved_model_dir(Path(predictor_path), Path(scratch) / "rain_predictor")
        row_wise = _check_signature(standardiser_dir, _STANDARDISER) == (3,)
        _check_signature(predictor_dir, _PREDICTOR)
        _read_metadata(predictor_dir)  # refuse bad metadata here, not on the gateway
        members = {
            LITERT_MODEL_FILE: fuse_pair(
                standardiser_dir, predictor_dir, (_STANDARDISER, _PREDICTOR), row_wise
            )
        }
        if (predictor_dir / METADATA_FILE).is_file():
            members[METADATA_FILE] = (predictor_dir / METADATA_FILE).read_bytes()
    out = Path(zip_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out


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


def _read_meta_graph(folder: Path) -> Any:
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


def _shape_of(tensor_info: Any) -> tuple[int, ...] | None:
    shape = tensor_info.tensor_shape
    return None if shape.unknown_rank else tuple(int(d.size) for d in shape.dim)


def _describe(shape: tuple[int, ...] | None) -> str:
    return "unknown rank" if shape is None else str([None if d == _UNKNOWN else d for d in shape])


def _check_signature(folder: Path, contract: tuple[str, str, str, tuple[tuple[int, ...], ...]]) -> tuple:
    """Check the serving signature against the contract; returns the input shape."""
    role, input_name, output_name, input_shapes = contract
    signatures = _read_meta_graph(folder).signature_def
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
    expected_output_shapes = {(3,): ((3,),), (_UNKNOWN, 3): ((_UNKNOWN, 3),)}
    checks = [(input_name, signature.inputs[input_name], input_shapes)]
    output = signature.outputs[output_name]
    input_shape = _shape_of(signature.inputs[input_name])
    if role == "rain_predictor":
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
                f"{role} {folder}: {name!r} has shape {_describe(_shape_of(info))}, expected {wanted}"
            )
    return input_shape


def _load_session(folder: Path, contract: tuple[str, str, str, tuple]) -> tuple[Any, Any, Any]:
    """(session, input tensor, output tensor) of the serving signature, in a private single-threaded graph."""
    import tensorflow as tf  # noqa: PLC0415 - lazy: TensorFlow is heavy

    role, input_name, output_name, _ = contract
    graph = tf.Graph()
    # One thread each: the gateway has few cores and other Lambdas to run.
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    session = tf.compat.v1.Session(graph=graph, config=config)
    try:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, [SERVE_TAG], str(folder))
    except Exception as error:  # TF raises many types here; all mean the model cannot be served
        session.close()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ModelContractError(
            f"{role} {folder}: TensorFlow cannot load it ({type(error).__name__}: {first_line})"
        ) from error
    signature = meta_graph.signature_def[SIGNATURE_KEY]
    input_tensor = graph.get_tensor_by_name(signature.inputs[input_name].name)
    output_tensor = graph.get_tensor_by_name(signature.outputs[output_name].name)
    return session, input_tensor, output_tensor


def _signature_runner(
    session: Any, input_tensor: Any, output_tensor: Any, row_wise: bool
) -> Callable[[np.ndarray], np.ndarray]:
    import tensorflow as tf  # noqa: PLC0415 - lazy: TensorFlow is heavy

    # Run the graph on the calling thread (-1): these graphs are a few small ops, and handing each run to
    # a pool thread and back costs as much as the run itself.
    options = tf.compat.v1.RunOptions(inter_op_thread_pool=-1)

    def run(rows: np.ndarray) -> np.ndarray:
        if row_wise:  # the tutorial's standardiser takes one reading of shape [3]
            return np.stack([session.run(output_tensor, {input_tensor: r}, options=options) for r in rows])
        return session.run(output_tensor, {input_tensor: rows}, options=options)

    return run


def _read_metadata(folder: Path) -> dict[str, Any] | None:
    path = folder / METADATA_FILE
    return _parse_metadata(path.read_bytes(), str(path)) if path.is_file() else None


def _parse_metadata(raw: bytes, path: str) -> dict[str, Any]:
    try:
        metadata = json.loads(raw.decode("utf-8"))
        threshold = float(metadata["threshold"])
        order = tuple(metadata["feature_order"])
    except (ValueError, KeyError, TypeError) as error:
        raise ModelContractError(f"{path}: unreadable model metadata ({error!r})") from error
    if not 0.0 <= threshold <= 1.0:
        raise ModelContractError(f"{path}: threshold {threshold} is not a probability")
    if order != FEATURE_ORDER:
        raise ModelContractError(f"{path}: feature order {list(order)}, expected {list(FEATURE_ORDER)}")
    return metadata


def _check_outputs_are_probabilities(model: RainModel, predictor_path: str | Path) -> None:
    """A predictor whose y is not a probability (say, a logit) would make thresholds meaningless."""
    # Through the single-reading path, the one the Lambda uses (LiteRT's batch interpreter stays unbuilt).
    outputs = np.array([model.predict_proba(1013.0, 12.0, 95.0), model.predict_proba(1025.0, 22.0, 40.0)])
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in outputs):
        raise ModelContractError(f"rain_predictor {predictor_path}: 'y' is not a probability ({outputs})")
