"""Train raincheck's standardiser + rain predictor on Met Éireann 2017; write them as Greengrass ML resources.

    python ml_resources/train.py [--data hourly_20_stations.csv] [--out ml_resources]

Writes standardiser.zip and rain_predictor.zip: TF2 SavedModels (saved_model.pb + variables/ at the zip
root) with the tutorial's `serving_default` contract, plus raincheck_model.json (threshold, feature order,
metrics, data attribution) in the predictor; then rain_model_litert.zip, the pair fused for LiteRT
(export_litert.py). Plain tf.Module + tf.saved_model.save: no Keras format to
break across TensorFlow versions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import export_litert
import numpy as np
import rain_data

from raincheck.lambdas.inference.contract import FEATURES

SEED = 2017
HIDDEN_UNITS = 64
EPOCHS = 40
# Share of the training rows added again as the Lambda computes them before it has 3 h of history
# (tendencies 0, history_3h_available 0): the same network learns the contract's fallback.
FALLBACK_SHARE = 0.25
BATCH_SIZE = 512
LEARNING_RATE = 0.003
METADATA_FILE = "raincheck_model.json"
_ZIP_TIME = (2017, 1, 1, 0, 0, 0)  # fixed member timestamps, so the same model gives the same zip bytes
# fingerprint.pb is optional and holds a random UUID per save: leaving it out keeps the zips reproducible.
_LEFT_OUT = {"fingerprint.pb"}


def _tensorflow():  # noqa: ANN202 - lazy import; determinism settings must precede any op
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: PLC0415

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(SEED)
    return tf


def make_standardiser(tf, mean: np.ndarray, std: np.ndarray):  # noqa: ANN001, ANN201
    width = len(mean)

    class Standardiser(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="standardiser")
            self.mean = tf.Variable(mean.astype(np.float32), trainable=False, name="mean")
            self.std = tf.Variable(std.astype(np.float32), trainable=False, name="std")

        @tf.function(input_signature=[tf.TensorSpec([None, width], tf.float32, name="x")])
        def serve(self, x):  # noqa: ANN001, ANN202
            return {"x_prime": (x - self.mean) / self.std}

    return Standardiser()


def make_predictor(tf, rng: np.random.Generator, width: int):  # noqa: ANN001, ANN201
    """A one-hidden-layer perceptron: sigmoid(W2 tanh(W1 x + b1) + b2), Glorot-uniform initialised."""

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)

    class Predictor(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="rain_predictor")
            self.w1 = tf.Variable(glorot(width, HIDDEN_UNITS), name="w1")
            self.b1 = tf.Variable(np.zeros(HIDDEN_UNITS, np.float32), name="b1")
            self.w2 = tf.Variable(glorot(HIDDEN_UNITS, 1), name="w2")
            self.b2 = tf.Variable(np.zeros(1, np.float32), name="b2")

        def logits(self, x):  # noqa: ANN001, ANN202
            return tf.tanh(x @ self.w1 + self.b1) @ self.w2 + self.b2

        @tf.function(input_signature=[tf.TensorSpec([None, width], tf.float32, name="input")])
        def serve(self, input):  # noqa: A002, ANN001, ANN202 - the contract names the input `input`
            return {"y": tf.sigmoid(self.logits(input))}

    return Predictor()


def fit(tf, predictor, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[float]:  # noqa: ANN001
    """Mini-batch Adam on binary cross-entropy; returns the mean loss per epoch."""
    variables = predictor.trainable_variables
    slots = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
    step = tf.Variable(0.0)
    beta1, beta2, epsilon = 0.9, 0.999, 1e-7

    @tf.function
    def train_step(xb, yb):  # noqa: ANN001, ANN202
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=yb, logits=predictor.logits(xb))
            )
        step.assign_add(1.0)
        correction = tf.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        for variable, gradient, (m, v) in zip(variables, tape.gradient(loss, variables), slots, strict=True):
            m.assign(beta1 * m + (1.0 - beta1) * gradient)
            v.assign(beta2 * v + (1.0 - beta2) * gradient**2)
            variable.assign_sub(LEARNING_RATE * correction * m / (tf.sqrt(v) + epsilon))
        return loss

    labels = y.astype(np.float32).reshape(-1, 1)
    history = []
    for _ in range(EPOCHS):
        # Shuffling within the training period only decorrelates mini-batches; the split stays by time.
        order = rng.permutation(len(x))
        losses = [
            float(train_step(x[order[i : i + BATCH_SIZE]], labels[order[i : i + BATCH_SIZE]]))
            for i in range(0, len(x), BATCH_SIZE)
        ]
        history.append(float(np.mean(losses)))
    return history


def write_zip(folder: Path, zip_path: Path) -> None:
    """Zip a SavedModel folder with its files at the zip root, in a fixed order with fixed timestamps."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in _LEFT_OUT):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())


def train(data_path: Path, out_dir: Path) -> dict:
    """Train, pick the threshold on validation, save both zips into out_dir; returns the metadata."""
    tf = _tensorflow()
    rng = np.random.default_rng(SEED)
    parts = rain_data.split(rain_data.load_observations(data_path))
    fallback = rng.random(len(parts["train"].raining)) < FALLBACK_SHARE
    train_x = np.concatenate(
        [parts["train"].features, rain_data.without_history(parts["train"].features[fallback])]
    )
    train_y = np.concatenate([parts["train"].raining, parts["train"].raining[fallback]])
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    standardiser = make_standardiser(tf, mean, std)
    predictor = make_predictor(tf, rng, train_x.shape[1])

    def scores(features: np.ndarray) -> np.ndarray:
        x_prime = standardiser.serve(tf.constant(features))["x_prime"]
        return predictor.serve(x_prime)["y"].numpy().reshape(-1)

    train_x_prime = standardiser.serve(tf.constant(train_x))["x_prime"].numpy()
    losses = fit(tf, predictor, train_x_prime, train_y, rng)
    validation = parts["validation"]
    threshold, _ = rain_data.best_f1_threshold(validation.raining, scores(validation.features))
    metrics = {
        name: rain_data.classification_metrics(part.raining, scores(part.features), threshold)
        for name, part in parts.items()
    }
    # The fallback: what the same stations score while the Lambda has no 3 h history yet.
    metrics["test_without_history"] = rain_data.classification_metrics(
        parts["test"].raining, scores(rain_data.without_history(parts["test"].features)), threshold
    )
    metadata = {
        "threshold": round(threshold, 6),
        **rain_data.CONTRACT,
        "feature_units": {name: FEATURES[name].unit for name in rain_data.FEATURE_ORDER},
        "features_computed_by_the_lambda": {name: FEATURES[name].meaning for name in rain_data.FEATURE_ORDER},
        "lambda_settings": {
            "ALTITUDE_M": "the gateway's altitude in metres: sea_level_pressure_hpa reduces the sensor's "
            "station pressure with it",
            "HISTORY_PATH": "a file on a read-write local resource: the readings of the last 3 h, kept "
            "across restarts; without 3 h of them the tendencies are 0 and history_3h_available 0",
        },
        "pressure": "mean-sea-level pressure as Met Eireann reports it; the Lambda reduces the BME680's "
        "station pressure to sea level with ALTITUDE_M",
        "training_data": "Met Eireann hourly observations 2017, 20 stations (aimsir17 package)",
        "attribution": rain_data.ATTRIBUTION,
        "licence": "CC BY 4.0 (training data)",
        "split": {
            "test_stations": list(rain_data.TEST_STATIONS),
            "train": "other stations, January-September 2017 (plus a seeded quarter of them again "
            "without history, for the fallback)",
            "validation": "other stations, October-December 2017 (threshold chosen here, max F1)",
        },
        "standardiser": {
            "mean": [round(float(v), 4) for v in mean],
            "std": [round(float(v), 4) for v in std],
        },
        "final_training_loss": round(losses[-1], 4),
        "metrics": metrics,
        "reliability": {
            name: rain_data.reliability(parts[name].raining, scores(parts[name].features))
            for name in ("validation", "test")
        },
        "seed": SEED,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, module in (("standardiser", standardiser), ("rain_predictor", predictor)):
            folder = Path(scratch) / name
            tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
            if name == "rain_predictor":
                (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
            write_zip(folder, out_dir / f"{name}.zip")
    return metadata


def _default_data() -> Path | None:
    from raincheck.harness.paths import shared_dir  # noqa: PLC0415 - only needed without --data

    shared = shared_dir()
    return None if shared is None else shared / rain_data.DATA_RELATIVE_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="hourly_20_stations.csv (default: shared)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    data = args.data or _default_data()
    if data is None or not data.is_file():
        parser.error(
            f"training data not found ({data or 'no shared folder: set RAINCHECK_SHARED or pass --data'}); "
            f"expected .../{rain_data.DATA_RELATIVE_PATH}"
        )
    metadata = train(data, args.out)
    export_litert.export(args.out, args.out / export_litert.LITERT_ZIP)
    print(json.dumps({"threshold": metadata["threshold"], "metrics": metadata["metrics"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
