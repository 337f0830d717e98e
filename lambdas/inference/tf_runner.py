"""The TensorFlow runtime: a checked SavedModel pair (savedmodel.py), each model run in its own session.

Each model runs through its `serving_default` signature with the TF1-style signature loader in a private
graph and session: `tf.saved_model.load` cannot revive Keras models saved before TF 2.5 (the tutorial's 2020
rain predictor fails with "no attribute 'add_slot'"), while the signature graph loads from every TF2
SavedModel and leaves the process's eager mode alone. TensorFlow is imported lazily, when a runner is built.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .savedmodel import (
    PREDICTOR,
    SERVE_TAG,
    SIGNATURE_KEY,
    STANDARDISER,
    Contract,
    ModelContractError,
    SavedModelPair,
)


class TensorFlowRunner:
    """A checked SavedModel pair loaded in TensorFlow: predict_batch(rows [n, k]) -> P(rain) [n, 1].

    Build it inside `checked_pair(...)`: the sessions read the (possibly extracted) folders only here.
    """

    def __init__(self, pair: SavedModelPair) -> None:
        standardiser = _load_session(pair.standardiser_dir, STANDARDISER)
        predictor = _load_session(pair.predictor_dir, PREDICTOR)
        self._standardise = _signature_runner(*standardiser, row_wise=pair.row_wise)
        self._predict = _signature_runner(*predictor, row_wise=False)

    def predict_batch(self, rows: np.ndarray) -> np.ndarray:
        """P(rain) for float32 rows of shape [n, k] already checked by the caller."""
        return self._predict(self._standardise(rows))


def _load_session(folder: Path, contract: Contract) -> tuple[Any, Any, Any]:
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
        if row_wise:  # the tutorial's standardiser takes one reading of shape [k]
            return np.stack([session.run(output_tensor, {input_tensor: r}, options=options) for r in rows])
        return session.run(output_tensor, {input_tensor: rows}, options=options)

    return run
