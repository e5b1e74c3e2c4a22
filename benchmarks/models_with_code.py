"""Models that carry code and dependencies: what `scanner gate` reports beside modelscan and
modelaudit, on the directories the tests generate (tests/modelcode).

    .venv/bin/python benchmarks/models_with_code.py [--modelaudit /tmp/ma-venv/bin/modelaudit] [--out DIR]

For each directory: our findings (code findings other than CODE-PRESENT, CODE-PRESENT, VULN-KNOWN,
MODEL-*), ML-BOM counts (components, code files, pkg:pypi dependencies) and the staging decision;
modelscan's issues and errors (library API, default settings); modelaudit's issues (its JSON
output) when its executable is given. Detection, not speed: one run each.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.modelcode.conftest import AUTO_MAP, BENIGN_CONFIG, BENIGN_MODELING, write_hf  # noqa: E402

EVIL_MODELING = (
    "import base64\nimport os\nimport socket\nimport subprocess\n\n"
    "os.system('true')\n"
    "exec(base64.b64decode(b'cHJpbnQoMSk='))\n\n\n"
    "class TinyModel:\n"
    "    def __init__(self, config):\n"
    "        socket.create_connection(('example.invalid', 80))\n"
    "        subprocess.run(['true'])\n"
)


def build(out: Path) -> list[Path]:
    made = out / "made"
    if not (made / ".done").exists():
        subprocess.run([sys.executable, str(REPO / "tests/modelcode/make_models.py"), str(made)], check=True)
        (made / ".done").touch()
    dirs = sorted(p for p in made.iterdir() if p.is_dir() and p.name.startswith("mlflow-"))
    hf = out / "hf"
    specs: dict[str, tuple[dict[str, str], Any, Any, str | None]] = {
        "hf-remote-benign": (
            {"configuration_tiny.py": BENIGN_CONFIG, "modeling_tiny.py": BENIGN_MODELING},
            AUTO_MAP,
            None,
            None,
        ),
        "hf-remote-malicious": (
            {"configuration_tiny.py": BENIGN_CONFIG, "modeling_tiny.py": EVIL_MODELING},
            AUTO_MAP,
            None,
            None,
        ),
        "hf-tokenizer-code": (
            {"tokenization_tiny.py": "class TinyTokenizer:\n    pass\n"},
            None,
            {"AutoTokenizer": ["tokenization_tiny.TinyTokenizer", None]},
            None,
        ),
        "hf-auto-map-other-repo": ({}, {"AutoModel": "other-org/shared-code--modeling_x.XModel"}, None, None),
        "hf-requirements-vulnerable": ({}, {}, None, "numpy==1.26.4\nurllib3==1.26.5\n"),
        "hf-requirements-clean": ({}, {}, None, "numpy==1.26.4\nsafetensors==0.4.5\n"),
        "hf-plain": ({}, {}, None, None),
    }
    for name, (code, auto_map, tok, reqs) in specs.items():
        d = hf / name
        if not d.exists():
            write_hf(d, code, auto_map, tok)
            if reqs:
                (d / "requirements.txt").write_text(reqs)
        dirs.append(d)
    return dirs


def ours(path: Path) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as saved:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "scanner",
                "gate",
                str(path),
                "--stage",
                "staging",
                "--no-ledger",
                "-f",
                "json",
                "--save-input",
                saved.name,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        record = json.loads(proc.stdout)
    f = record["findings"]
    comps = record["sbom"]["components"]
    return {
        "code": sum(1 for x in f if x["check"] == "code" and x["id"] != "CODE-PRESENT"),
        "present": sum(1 for x in f if x["id"] == "CODE-PRESENT"),
        "vulns": sum(1 for x in f if x["id"] == "VULN-KNOWN"),
        "model": sum(1 for x in f if x["id"].startswith("MODEL-")),
        "components": len(comps) + 1,
        "code_files": sum(1 for c in comps if any(p["name"] == "code-role" for p in c.get("properties", []))),
        "pypi": sum(1 for c in comps if c.get("purl", "").startswith("pkg:pypi/") and c.get("scope") != "excluded"),
        "decision": "allow"
        if record["decision"]["allow"]
        else "deny " + ",".join(sorted(d["rule"] for d in record["decision"]["deny"])),
    }


def modelscan(path: Path) -> str:
    from modelscan.modelscan import ModelScan
    from modelscan.settings import DEFAULT_SETTINGS

    result = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS)).scan(path)
    issues = result.get("issues", [])
    errors = result.get("errors", [])
    return f"{len(issues)} issues, {len(errors)} errors"


def modelaudit(exe: str | None, path: Path) -> str:
    if not exe:
        return "not run"
    proc = subprocess.run(
        [exe, "scan", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"},
    )
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return f"exit {proc.returncode}, no JSON"
    issues = [i for i in doc.get("issues", []) if str(i.get("severity", "")).lower() not in ("debug", "info")]
    return f"{len(issues)} issues (exit {proc.returncode})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modelaudit", help="path of a modelaudit executable (install it in its own venv)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / ".work" / "models-with-code")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        "| directory | ours: code findings / CODE-PRESENT / VULN-KNOWN / MODEL-* "
        "| ML-BOM: components / code files / pypi deps | ours at staging | modelscan | modelaudit |"
    )
    print("|---|---|---|---|---|---|")
    for d in build(args.out):
        o = ours(d)
        print(
            f"| {d.name} | {o['code']} / {o['present']} / {o['vulns']} / {o['model']} | "
            f"{o['components']} / {o['code_files']} / {o['pypi']} | {o['decision']} | {modelscan(d)} | "
            f"{modelaudit(args.modelaudit, d)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
