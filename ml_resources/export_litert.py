"""Fuse the standardiser + rain predictor SavedModel zips into one LiteRT rain model zip (needs TensorFlow).

    python ml_resources/export_litert.py [--models ml_resources] [--out ml_resources/rain_model_litert.zip]

The zip holds rain_model.tflite (standardisation folded in front of the predictor) and raincheck_model.json
at its root: a Greengrass ML resource the inference Lambda loads with MODEL_RUNTIME=litert, without
TensorFlow. The Lambda never converts: this script does, from a checkout, and checks the pair exactly as
the Lambda's TensorFlow runtime would (lambdas.inference.savedmodel.checked_pair). train.py runs it after
training; same models and converter version, same bytes.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from a checkout: lambdas/ is beside ml_resources/

from raincheck.lambdas.inference.savedmodel import (  # noqa: E402
    LITERT_MODEL_FILE,
    METADATA_FILE,
    PREDICTOR,
    SERVE_TAG,
    SIGNATURE_KEY,
    STANDARDISER,
    ModelContractError,
    SavedModelPair,
    checked_pair,
    read_meta_graph,
)

LITERT_ZIP = "rain_model_litert.zip"
_ZIP_TIME = (2017, 1, 1, 0, 0, 0)  # fixed member timestamps: the same model gives the same zip bytes


def fuse_pair(pair: SavedModelPair) -> bytes:
    """Convert a checked SavedModel pair into one flatbuffer: the standardiser's output feeds the predictor.

    Both signature graphs are imported into one TF1 graph (input_map wires them), their variables restored
    and frozen by the session-based converter, which also converts the 2020 models that TF2 cannot revive.
    """
    import tensorflow as tf  # noqa: PLC0415 - lazy: only conversion needs TensorFlow

    std_sig = read_meta_graph(pair.standardiser_dir).signature_def[SIGNATURE_KEY]
    pred_sig = read_meta_graph(pair.predictor_dir).signature_def[SIGNATURE_KEY]
    graph = tf.Graph()
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    with graph.as_default(), tf.compat.v1.Session(graph=graph, config=config) as session:
        try:
            # A row-wise standardiser takes shape [k]: feed it the single row, hand the predictor [1, k].
            batch, width = (1 if pair.row_wise else None), pair.width
            readings = tf.compat.v1.placeholder(tf.float32, [batch, width], name="readings")
            fed = tf.reshape(readings, [width]) if pair.row_wise else readings
            tf.compat.v1.saved_model.loader.load(
                session, [SERVE_TAG], str(pair.standardiser_dir), import_scope="standardiser",
                input_map={std_sig.inputs[STANDARDISER.input_name].name: fed},
            )  # fmt: skip
            x_prime = graph.get_tensor_by_name(
                f"standardiser/{std_sig.outputs[STANDARDISER.output_name].name}"
            )
            tf.compat.v1.saved_model.loader.load(
                session, [SERVE_TAG], str(pair.predictor_dir), import_scope="rain_predictor",
                input_map={pred_sig.inputs[PREDICTOR.input_name].name: tf.reshape(x_prime, [-1, width])},
            )  # fmt: skip
            y = graph.get_tensor_by_name(f"rain_predictor/{pred_sig.outputs[PREDICTOR.output_name].name}")
            converter = tf.compat.v1.lite.TFLiteConverter.from_session(session, [readings], [y])
            return converter.convert()
        except Exception as error:  # TF raises many types here; all mean this pair cannot be fused
            lines = str(error).strip().splitlines()
            raise ModelContractError(
                f"{pair.standardiser_dir} + {pair.predictor_dir}: LiteRT conversion failed "
                f"({type(error).__name__}: {lines[0] if lines else ''})"
            ) from error


def export_litert_model(
    standardiser_path: str | Path, predictor_path: str | Path, zip_path: str | Path
) -> Path:
    """Check a SavedModel pair, fuse it, and write a LiteRT rain model zip (rain_model.tflite + metadata).

    The zip is an ML resource like the SavedModel zips; its bytes depend only on the models and the
    converter version (fixed member order and timestamps). Bad metadata is refused here, not on the gateway.
    """
    with checked_pair(standardiser_path, predictor_path) as pair:
        members = {LITERT_MODEL_FILE: fuse_pair(pair)}
        if (pair.predictor_dir / METADATA_FILE).is_file():
            members[METADATA_FILE] = (pair.predictor_dir / METADATA_FILE).read_bytes()
    out = Path(zip_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out


def export(models_dir: Path, out: Path) -> Path:
    """Write the LiteRT rain model zip for models_dir's standardiser.zip + rain_predictor.zip."""
    return export_litert_model(models_dir / "standardiser.zip", models_dir / "rain_predictor.zip", out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=HERE, help="folder with the two SavedModel zips")
    parser.add_argument("--out", type=Path, default=None, help=f"default: MODELS/{LITERT_ZIP}")
    args = parser.parse_args(argv)
    print(export(args.models, args.out or args.models / LITERT_ZIP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
