"""The LiteRT runtime: one fused flatbuffer (standardiser in front of the predictor) run by ai-edge-litert.

A "LiteRT rain model" is a folder or zip holding `rain_model.tflite` (feature rows [n, k] in the model
contract's order -> P(rain) [n, 1]; or [1, k] -> [1, 1] when the standardiser took one reading at a time;
k = 3 for the tutorial's readings, without metadata) and, optionally,
`raincheck_model.json`, both at its root. Loading one needs no TensorFlow, and nothing here builds one:
ml_resources/export_litert.py does, from a SavedModel pair (with TensorFlow, off the gateway).

The Lambda predicts one reading per period, so the single-reading path is the one made fast: tensor indices
and the input buffer are resolved once, and a call is a range check, three stores, set_tensor, invoke and
one read. Batches run on a second interpreter, created on first use so the Lambda never pays for it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .savedmodel import LITERT_MODEL_FILE, METADATA_FILE, ModelContractError

# Finite and representable as float32: a larger float64 would become inf in the input buffer.
_F32_MAX = float(np.finfo(np.float32).max)
_OUTPUT_SHAPES = ([-1, 1], [1, 1])


def read_resource(path: Path) -> tuple[bytes, bytes | None] | None:
    """(flatbuffer, metadata JSON or None) of a folder or zip with rain_model.tflite at its root, or None."""
    if not path.exists():
        raise ModelContractError(f"{path}: no such file or folder")
    if path.is_dir():
        model, metadata = path / LITERT_MODEL_FILE, path / METADATA_FILE
        if not model.is_file():
            return None
        return model.read_bytes(), (metadata.read_bytes() if metadata.is_file() else None)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if LITERT_MODEL_FILE not in names:
                return None
            metadata = archive.read(METADATA_FILE) if METADATA_FILE in names else None
            return archive.read(LITERT_MODEL_FILE), metadata
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelContractError(f"{path}: not a readable zip ({error})") from error


def _interpreter(model_content: bytes) -> Any:
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - optional runtime

    return Interpreter(model_content=model_content, num_threads=1)


class LiteRTRunner:
    """A fused rain model in LiteRT: predict_one(p, t, h) for the Lambda, predict_batch(rows) for the rest."""

    def __init__(self, model_content: bytes, source: str, width: int = 3) -> None:
        try:
            interpreter = _interpreter(model_content)
            inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        except (ValueError, RuntimeError) as error:
            raise ModelContractError(f"{source}: not a readable LiteRT model ({error})") from error
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelContractError(
                f"{source}: LiteRT model has {len(inputs)} inputs, {len(outputs)} outputs; expected 1 each"
            )
        (detail,), (out_detail,) = inputs, outputs
        input_shapes = ([-1, width], [1, width])
        for role, info, shapes in (("input", detail, input_shapes), ("output", out_detail, _OUTPUT_SHAPES)):
            shape = [int(d) for d in info["shape_signature"]]
            if np.dtype(info["dtype"]) != np.float32 or shape not in shapes:
                raise ModelContractError(
                    f"{source}: LiteRT {role} is {np.dtype(info['dtype']).name} {shape}, "
                    f"expected float32 {' or '.join(map(str, shapes))} (-1: any batch size; {width} "
                    "features, as the model contract names them)"
                )
        self.batchable = int(detail["shape_signature"][0]) == -1
        self.width = width
        self._content = model_content
        self._input_index, self._output_index = detail["index"], out_detail["index"]
        if self.batchable:
            interpreter.resize_tensor_input(self._input_index, [1, width])
        interpreter.allocate_tensors()
        self._buffer = np.zeros((1, width), dtype=np.float32)
        # Element stores through a memoryview cost half what numpy's do; it accepts any real number.
        self._row = memoryview(self._buffer).cast("B").cast("f")
        # Bound methods looked up once: attribute lookups are a measurable share of a ~2 µs call.
        self._set, self._invoke, self._get = (
            interpreter.set_tensor,
            interpreter.invoke,
            interpreter.get_tensor,
        )
        self._batch_interpreter: Any = None
        self._batch_rows = 0

    def predict_one(self, *features: float) -> float:
        """P(rain) for one feature row; ValueError unless it has `width` finite float32 numbers."""
        if len(features) != self.width:
            raise ValueError(f"the model takes {self.width} features, got {len(features)}")
        row = self._row
        for index, value in enumerate(features):
            # Chained comparisons are false for NaN and infinities: the cheapest complete check.
            if not -_F32_MAX <= value <= _F32_MAX:
                raise ValueError("features must be finite numbers (a failed sensor read is not a reading)")
            row[index] = value
        self._set(self._input_index, self._buffer)
        self._invoke()
        return self._get(self._output_index).item()

    def predict_batch(self, rows: np.ndarray) -> np.ndarray:
        """P(rain), shape [n], for float32 rows of shape [n, width] already checked by the caller."""
        if not self.batchable:  # the fused model takes one reading at a time
            return np.array([self.predict_one(*row) for row in rows.tolist()], dtype=np.float32)
        if self._batch_interpreter is None:
            self._batch_interpreter = _interpreter(self._content)
        interpreter = self._batch_interpreter
        if self._batch_rows != len(rows):  # resizing reallocates: only when the batch size changes
            interpreter.resize_tensor_input(self._input_index, [len(rows), self.width])
            interpreter.allocate_tensors()
            self._batch_rows = len(rows)
        interpreter.set_tensor(self._input_index, np.ascontiguousarray(rows))
        interpreter.invoke()
        return interpreter.get_tensor(self._output_index).reshape(-1).copy()
