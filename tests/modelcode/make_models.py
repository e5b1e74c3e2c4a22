"""Writes real model directories with the libraries themselves (run as a separate process: the
imports of mlflow, skops and scikit-learn take seconds, so this runs once per test session).

Usage: python make_models.py TARGET_DIR
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

# MLflow requirements as pinned here: the bundled OSV snapshot (2024-10) knows urllib3 1.26.5
# (PYSEC-2023-192, high, fixed in 1.26.17; PYSEC-2023-212, medium, fixed in 1.26.18), as
# tests/vulns does; nothing it holds affects the clean pins (or mlflow 3, which MLflow adds).
CLEAN = ["scikit-learn==1.9.1"]
VULNERABLE = ["scikit-learn==1.9.1", "urllib3==1.26.5"]

HELPER = "def scale(x):\n    return x * 2\n"
# Harmless payload (``true``), but exactly what a malicious code path does: a shell command that
# runs when MLflow puts the code path on sys.path and the model module imports it.
EVIL_HELPER = "import os\n\nos.system('true')\n\n\ndef scale(x):\n    return x * 2\n"
# Models-from-code: MLflow imports this file when it saves the model (and when it loads it); the
# code path (helper.py) is only copied at save time and imported by the loader's environment.
MODEL_CODE = (
    "import mlflow\n"
    "from mlflow.pyfunc import PythonModel\n\n\n"
    "class Doubler(PythonModel):\n"
    "    def predict(self, context, model_input):\n"
    "        return model_input * 2\n\n\n"
    "mlflow.models.set_model(Doubler())\n"
)


def main(target: Path) -> None:
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    target.mkdir(parents=True, exist_ok=True)
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    model = LogisticRegression().fit(x, [0, 1, 1, 0])
    mlflow.sklearn.save_model(model, target / "mlflow-sklearn-skops", pip_requirements=CLEAN)
    mlflow.sklearn.save_model(model, target / "mlflow-sklearn-vulnerable", pip_requirements=VULNERABLE)
    for fmt in ("cloudpickle", "pickle"):
        mlflow.sklearn.save_model(
            model, target / f"mlflow-sklearn-{fmt}", serialization_format=fmt, pip_requirements=CLEAN
        )
    src = target / "_src"
    src.mkdir(exist_ok=True)
    (src / "model_code.py").write_text(MODEL_CODE)
    for name, helper in (("mlflow-pyfunc-code-paths", HELPER), ("mlflow-pyfunc-evil-code-path", EVIL_HELPER)):
        (src / "helper.py").write_text(helper)
        mlflow.pyfunc.save_model(
            target / name,
            python_model=str(src / "model_code.py"),
            code_paths=[str(src / "helper.py")],
            pip_requirements=["pandas==3.1.1"],
        )

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):  # type: ignore[no-untyped-def]
            return model_input

    mlflow.pyfunc.save_model(target / "mlflow-pyfunc-cloudpickle", python_model=Echo(), pip_requirements=CLEAN)
    skops.io.dump(model, target / "model.skops")

    import mlflow.pytorch
    import torch  # already imported by skops (through scikit-learn's array-API support)

    # pt2 (the default) traces the model with an input example; the pickle format is the classic path
    mlflow.pytorch.save_model(
        torch.nn.Linear(2, 1),
        target / "mlflow-pytorch-pickle",
        serialization_format="pickle",
        pip_requirements=["torch==2.13.0"],
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
