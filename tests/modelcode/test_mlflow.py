"""MLflow model directories written by mlflow-skinny 3 (``make_models.py``): recognised as models by
content, their environment inventoried and audited like an application's, their code analysed."""

from __future__ import annotations

import json
import platform
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.modelcode.conftest import components, denied, depends_on, findings, props, warned

MLFLOW = version("mlflow-skinny")  # importing mlflow itself takes seconds
PY = platform.python_version()


def known_vulns(record: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (f["evidence"]["package"], f["evidence"]["version"], f["evidence"]["vuln_id"])
        for f in record["findings"]
        if f["id"] == "VULN-KNOWN"
    }


def test_default_skops_directory_is_a_model_with_its_environment(gate, made: Path) -> None:
    d = made / "mlflow-sklearn-skops"
    record = gate(d, "dev")
    assert record["input"]["artifact"]["kind"] == "model-dir"
    # conda.yaml is YAML, not a pickle: an MLflow model is not denied for its environment file.
    assert findings(record, "MODEL-") == [] and findings(record, "CODE-") == []
    assert findings(record, "VULN-") == [("VULN-UNAUDITED", "medium", "python_env.yaml:build_dependencies[3]")]
    assert record["decision"]["allow"]
    comps = components(record)
    root_ref = record["sbom"]["metadata"]["component"]["bom-ref"]
    root = props(comps[root_ref])
    assert {k: root[k] for k in root if k.startswith(("mlflow:", "conda:", "python-"))} == {
        "conda:channels": "conda-forge",
        "mlflow:flavors": "python_function,sklearn",
        "mlflow:loader-module": "mlflow.sklearn",
        "mlflow:model-files": "model.skops",
        "mlflow:serialization-format": "skops",
        "mlflow:version": MLFLOW,
        "python-version": PY,
    }
    assert props(comps["file:model.skops"])["format"] == "zip" and comps["file:model.skops"]["hashes"]
    assert props(comps["file:conda.yaml"])["format"] == "text"
    pypi = sorted(r for r in comps if r.startswith("pkg:pypi/"))
    assert [r.split("@")[0] for r in pypi] == [
        "pkg:pypi/mlflow",
        "pkg:pypi/pip",
        "pkg:pypi/scikit-learn",
        "pkg:pypi/setuptools",
        "pkg:pypi/wheel",
    ]
    assert f"pkg:pypi/mlflow@{MLFLOW}" in pypi and "pkg:pypi/scikit-learn@1.9.1" in pypi
    sk = comps["pkg:pypi/scikit-learn@1.9.1"]
    assert props(sk)["declared-in"] == "conda.yaml:dependencies[3].pip[2], requirements.txt"
    assert props(comps["pkg:pypi/wheel"])["dependency-kind"] == "build"
    assert "pkg:conda/pip" in comps
    edges = depends_on(record, root_ref)
    assert set(pypi) | {"pkg:conda/pip", "file:model.skops"} <= set(edges)


def test_vulnerable_pins_are_audited_like_an_application(gate, cli, made: Path) -> None:
    d = made / "mlflow-sklearn-vulnerable"
    staging = gate(d, "staging")
    expected = {("urllib3", "1.26.5", "PYSEC-2023-192"), ("urllib3", "1.26.5", "PYSEC-2023-212")}
    assert known_vulns(staging) == expected
    assert "vuln-fixable" in denied(staging)
    assert "vuln-fixable" not in denied(gate(d, "dev"))
    # The same advisories `scanner audit` finds in the model's requirements.txt: one check.
    audit = cli("audit", d / "requirements.txt", "-f", "json")
    assert audit.code == 1
    assert known_vulns(json.loads(audit.out)) == expected
    urllib3 = components(staging)["pkg:pypi/urllib3@1.26.5"]
    assert props(urllib3)["declared-in"] == "conda.yaml:dependencies[3].pip[3], requirements.txt"


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_sklearn_pickle_flavors(gate, made: Path, fmt: str) -> None:
    record = gate(made / f"mlflow-sklearn-{fmt}", "dev")
    comps = components(record)
    assert props(comps["file:model.pkl"])["format"] == "pickle"
    root = props(comps[record["sbom"]["metadata"]["component"]["bom-ref"]])
    assert (root["mlflow:serialization-format"], root["mlflow:model-files"]) == (fmt, "model.pkl")
    assert findings(record, "MODEL-") == [] and record["decision"]["allow"]


def test_pyfunc_python_model_object_is_a_cloudpickle(gate, made: Path) -> None:
    record = gate(made / "mlflow-pyfunc-cloudpickle", "dev")
    model = findings(record, "MODEL-")
    assert model and {f[2] for f in model} == {"python_model.pkl"}
    assert ("MODEL-PICKLE-GLOBAL", "critical", "python_model.pkl") in model
    assert "model-unsafe" in denied(record)


def test_code_paths_and_model_code(gate, made: Path) -> None:
    d = made / "mlflow-pyfunc-code-paths"
    record = gate(d, "staging")
    assert findings(record, "CODE-") == [
        ("CODE-PRESENT", "info", "code/helper.py"),
        ("CODE-PRESENT", "info", "model_code.py"),
    ]
    comps = components(record)
    assert props(comps["file:code/helper.py"])["code-role"] == "mlflow-code-path"
    assert props(comps["file:model_code.py"])["code-role"] == "mlflow-model-code"
    assert props(comps["file:code/helper.py"])["code-entry"] == "MLmodel: python_function.code: code"
    assert "pkg:pypi/pandas@3.1.1" in comps
    assert "remote-code" in warned(record) and "code-unsafe" not in denied(record)
    # the model is code (models-from-code): judged by the code check, so not "nothing to judge"
    assert findings(record, "MODEL-") == [] and record["decision"]["allow"]


def test_malicious_code_path_is_denied(gate, made: Path) -> None:
    record = gate(made / "mlflow-pyfunc-evil-code-path", "dev")
    assert [f for f in findings(record, "CODE-") if f[0] != "CODE-PRESENT"] == [
        ("CODE-PROCESS", "critical", "code/helper.py:3")
    ]
    assert "code-unsafe" in denied(record)


def _retamper(src: Path, dst: Path, edit: Any) -> Path:
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "schema.json":
                schema = json.loads(data)
                edit(schema)
                data = json.dumps(schema).encode()
            zout.writestr(name, data)
    return dst


def test_skops_file_types_are_judged_like_pickle_globals(cli, made: Path, tmp_path: Path) -> None:
    clean = cli("scan", made / "model.skops", "-f", "json")
    assert clean.code == 0 and json.loads(clean.out)["findings"] == []

    def evil(schema: dict[str, Any]) -> None:
        schema["content"]["content"]["hook"] = {
            "__class__": "system",
            "__module__": "os",
            "__loader__": "FunctionNode",
            "content": None,
            "__id__": 1,
        }
        schema["content"]["content"]["odd"] = {"__class__": "Thing", "__module__": "mypkg", "__loader__": "ObjectNode"}
        schema["content"]["content"]["built"] = {
            "__class__": "Gadget",
            "__module__": "mypkg",
            "__loader__": "ReduceNode",
            "__reduce__": {"args": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode"}},
        }

    bad = _retamper(made / "model.skops", tmp_path / "evil.skops", evil)
    out = json.loads(cli("scan", bad, "-f", "json").out)["findings"]
    assert sorted((f["id"], f["severity"], f["evidence"]["type"], f["evidence"]["loader_use"]) for f in out) == [
        ("MODEL-SKOPS-TYPE", "critical", "os.system", "import the function"),
        ("MODEL-SKOPS-TYPE", "low", "mypkg.Thing", "instantiate"),  # only reconstructed
        ("MODEL-SKOPS-TYPE", "medium", "mypkg.Gadget", "call with arguments"),
    ]
    assert {f["subject"] for f in out} == {f"{bad}!schema.json"}

    def unknown_loader(schema: dict[str, Any]) -> None:
        schema["content"]["__loader__"] = "ShinyNewNode"

    odd = _retamper(made / "model.skops", tmp_path / "odd.skops", unknown_loader)
    out = json.loads(cli("scan", odd, "-f", "json").out)["findings"]
    assert [(f["id"], f["evidence"]["reason"]) for f in out] == [
        ("MODEL-UNSCANNABLE", "unknown skops loader 'ShinyNewNode'")
    ]


def test_hostile_environment_files(gate, made: Path, tmp_path: Path) -> None:
    d = tmp_path / "hostile"
    shutil.copytree(made / "mlflow-sklearn-skops", d)
    (d / "conda.yaml").write_text("a: &x [1, 2]\nb: *x\n")  # aliases: refused by the bounded reader
    (d / "python_env.yaml").write_text("python: 3.11\ndependencies:\n- -r ../../../etc/passwd\n")
    record = gate(d, "dev")
    sbom = sorted((f["id"], f["message"]) for f in record["findings"] if f["id"] == "SBOM-MODEL-CONFIG-INVALID")
    assert [m.split(": ", 1)[0] for _, m in sbom] == ["conda.yaml cannot be read", "python_env.yaml cannot be read"]
    assert "anchors and aliases are not allowed" in sbom[0][1]
    assert "names '../../../etc/passwd', not a file of the package" in sbom[1][1]
    assert findings(record, "MODEL-") == []


def test_unparseable_dependency_is_unaudited(gate, made: Path, tmp_path: Path) -> None:
    d = tmp_path / "odd-env"
    shutil.copytree(made / "mlflow-sklearn-skops", d)
    (d / "python_env.yaml").write_text("python: 3.11.7\ndependencies:\n- 'numpy ==== 1'\n- 7\n")
    record = gate(d, "prod")
    sbom = sorted((f["id"], f["subject"]) for f in record["findings"] if f["id"] == "SBOM-UNPARSEABLE-REQUIREMENT")
    assert sbom == [
        ("SBOM-UNPARSEABLE-REQUIREMENT", "python_env.yaml:dependencies[1]"),
        ("SBOM-UNPARSEABLE-REQUIREMENT", "python_env.yaml:dependencies[2]"),
    ]
    assert "vuln-unaudited" in denied(record)


def test_pytorch_pickle_flavor(gate, made: Path) -> None:
    record = gate(made / "mlflow-pytorch-pickle", "dev")
    comps = components(record)
    assert props(comps["file:data/model.pth"])["format"] == "zip"
    root = props(comps[record["sbom"]["metadata"]["component"]["bom-ref"]])
    assert (root["mlflow:flavors"], root["mlflow:loader-module"], root["mlflow:model-files"]) == (
        "python_function,pytorch",
        "mlflow.pytorch",
        "data",
    )
    assert "pkg:pypi/torch@2.13.0" in comps
    assert findings(record, "MODEL-") == [] and findings(record, "CODE-") == []
    assert record["decision"]["allow"]
