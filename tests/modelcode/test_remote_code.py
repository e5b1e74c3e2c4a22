"""Hugging Face directories with remote code (``auto_map``): what ``trust_remote_code=True``
would import is inventoried with its digest and role, analysed, and decided by policy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from scanner.resources import policies_dir
from tests.modelcode.conftest import (
    AUTO_MAP,
    BENIGN_CONFIG,
    BENIGN_MODELING,
    components,
    denied,
    findings,
    props,
    warned,
    write_hf,
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def benign(tmp_path: Path) -> Path:
    return write_hf(
        tmp_path / "tiny-remote",
        {"configuration_tiny.py": BENIGN_CONFIG, "modeling_tiny.py": BENIGN_MODELING},
        auto_map=AUTO_MAP,
    )


def test_benign_remote_code_is_inventoried_and_needs_a_decision(gate, benign: Path, tmp_path: Path) -> None:
    dev = gate(benign, "dev")
    assert findings(dev, "CODE-") == [
        ("CODE-PRESENT", "info", "configuration_tiny.py"),
        ("CODE-PRESENT", "info", "modeling_tiny.py"),
    ]
    assert findings(dev, "MODEL-") == []
    comps = components(dev)
    modeling = comps["file:modeling_tiny.py"]
    assert props(modeling)["code-role"] == "remote-code"
    assert props(modeling)["code-entry"] == "config.json: AutoModel: modeling_tiny.TinyModel"
    assert modeling["hashes"] == [{"alg": "SHA-256", "content": sha(benign / "modeling_tiny.py")}]
    assert "file:modeling_tiny.py" in [d for x in dev["sbom"]["dependencies"] for d in x.get("dependsOn", [])]
    assert sorted((c["path"], c["role"], c["location"], c["sha256"]) for c in dev["input"]["code"]) == [
        ("configuration_tiny.py", "remote-code", "carried", sha(benign / "configuration_tiny.py")),
        ("modeling_tiny.py", "remote-code", "carried", sha(benign / "modeling_tiny.py")),
    ]
    # The library version that wrote config.json is recorded, not audited as a dependency.
    assert comps["pkg:pypi/transformers@4.44.2"]["scope"] == "excluded"
    assert not [f for f in dev["findings"] if f["check"] == "vulns"]
    assert dev["decision"]["allow"] and "remote-code" not in warned(dev)
    assert "remote-code" in warned(gate(benign, "staging"))
    prod = gate(benign, "prod")
    assert "remote-code" in denied(prod) and "code-unsafe" not in denied(prod)

    # Reviewed: both digests allow-listed in the policy data → no remote-code reason at prod.
    data = json.loads((policies_dir() / "data.json").read_text())
    data["scanner"]["config"]["remote_code"]["allowed_sha256"] = [
        sha(benign / "configuration_tiny.py"),
        sha(benign / "modeling_tiny.py"),
    ]
    reviewed = tmp_path / "reviewed.json"
    reviewed.write_text(json.dumps(data))
    assert "remote-code" not in denied(gate(benign, "prod", "--data", reviewed))
    # Changing one byte of reviewed code makes it unreviewed again.
    (benign / "modeling_tiny.py").write_text(BENIGN_MODELING + "\n")
    again = gate(benign, "prod", "--data", reviewed)
    assert "remote-code" in denied(again)
    assert (
        "modeling_tiny.py (remote-code)"
        in next(d for d in again["decision"]["deny"] if d["rule"] == "remote-code")["message"]
    )


MALICIOUS = {
    "os-system-at-import": (
        "import os\n\nos.system('true')\n",
        [("CODE-PROCESS", "critical", "modeling_tiny.py:3")],
    ),
    "subprocess-at-import": (
        "import subprocess\n\nsubprocess.Popen(['true'])\n",
        [("CODE-PROCESS", "critical", "modeling_tiny.py:3")],
    ),
    "exec-base64": (
        "import base64\n\nexec(base64.b64decode(b'aW1wb3J0IG9zOyBvcy5zeXN0ZW0oInRydWUiKQ=='))\n",
        [("CODE-OBFUSCATED", "critical", "modeling_tiny.py:3")],
    ),
    "network-beacon-in-init": (
        "import urllib.request\n\nfrom transformers import PreTrainedModel\n\n\n"
        "class TinyModel(PreTrainedModel):\n"
        "    def __init__(self, config):\n"
        "        super().__init__(config)\n"
        "        urllib.request.urlopen('http://example.invalid/beacon')\n",
        [("CODE-NETWORK", "high", "modeling_tiny.py:9")],
    ),
    "credentials-in-class-body": (
        "import os\n\n\nclass TinyModel:\n    token = os.environ['HF_TOKEN']\n",
        [("CODE-CREDENTIALS", "critical", "modeling_tiny.py:5")],
    ),
}


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_malicious_remote_code_is_denied_at_every_stage(gate, tmp_path: Path, name: str) -> None:
    src, expected = MALICIOUS[name]
    d = write_hf(tmp_path / name, {"configuration_tiny.py": BENIGN_CONFIG, "modeling_tiny.py": src}, AUTO_MAP)
    record = gate(d, "dev")
    code = [f for f in findings(record, "CODE-") if f[0] != "CODE-PRESENT"]
    assert code == expected
    f = next(f for f in record["findings"] if f["id"] == expected[0][0])
    assert f["evidence"]["file"].endswith("modeling_tiny.py") and f["evidence"]["role"] == "remote-code"
    assert f["evidence"]["line"] == int(expected[0][2].rsplit(":", 1)[1]) and f["evidence"]["call"]
    assert not record["decision"]["allow"] and "code-unsafe" in denied(record)
    assert record["exit"] == 1


def test_tokenizer_only_remote_code(gate, tmp_path: Path) -> None:
    d = write_hf(
        tmp_path / "tok",
        {"tokenization_tiny.py": "class TinyTokenizer:\n    def tokenize(self, text):\n        return text.split()\n"},
        tokenizer_auto_map={"AutoTokenizer": ["tokenization_tiny.TinyTokenizer", None]},
        weights=False,
    )
    (d / "vocab.txt").write_text("[PAD]\nhello\n")
    record = gate(d, "staging")
    assert record["input"]["artifact"]["kind"] == "model-dir"
    assert findings(record, "CODE-") == [("CODE-PRESENT", "info", "tokenization_tiny.py")]
    tok = components(record)["file:tokenization_tiny.py"]
    assert props(tok)["code-role"] == "tokenizer-code"
    assert props(tok)["code-entry"] == "tokenizer_config.json: AutoTokenizer: tokenization_tiny.TinyTokenizer"
    assert "remote-code" in warned(record)
    assert findings(record, "MODEL-") == [] and record["decision"]["allow"]


def test_auto_map_to_another_repository(gate, tmp_path: Path) -> None:
    d = write_hf(
        tmp_path / "borrowed",
        {"configuration_tiny.py": BENIGN_CONFIG},
        {"AutoConfig": "configuration_tiny.TinyConfig", "AutoModel": "other-org/shared-code--modeling_x.XModel"},
    )
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [
        ("CODE-PRESENT", "info", "configuration_tiny.py"),
        ("CODE-REMOTE-EXTERNAL", "high", "other-org/shared-code--modeling_x.XModel"),
    ]
    ref = "code:config.json:AutoModel: other-org/shared-code--modeling_x.XModel"
    ext = components(record)[ref]
    assert ext["externalReferences"] == [{"type": "vcs", "url": "https://huggingface.co/other-org/shared-code"}]
    assert ext["purl"] == "pkg:huggingface/other-org/shared-code"
    assert props(ext)["code-location"] == "external" and "hashes" not in ext
    assert ref in [t for x in record["sbom"]["dependencies"] for t in x.get("dependsOn", [])]
    assert {
        "path": "other-org/shared-code--modeling_x.XModel",
        "role": "remote-code",
        "location": "external",
        "sha256": None,
    } in record["input"]["code"]
    assert "code-unsafe" in denied(record)


def test_module_named_but_missing(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "missing", {}, {"AutoModel": "modeling_gone.GoneModel"})
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [("CODE-REMOTE-MISSING", "high", "modeling_gone.py")]
    assert "code-unsafe" in denied(record)


def test_unparseable_code_is_not_passed(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "broken", {"modeling_tiny.py": "def forward(:\n"}, {"AutoModel": "modeling_tiny.M"})
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [
        ("CODE-PRESENT", "info", "modeling_tiny.py"),
        ("CODE-UNSCANNABLE", "high", "modeling_tiny.py"),
    ]
    assert {"code-unsafe", "checks-incomplete"} <= denied(record)


def test_nosec_comments_do_not_excuse_code(gate, tmp_path: Path) -> None:
    src = "import yaml\n\n\ndef load(p):\n    return yaml.load(open(p))  # nosec\n"
    d = write_hf(tmp_path / "nosec", {"modeling_tiny.py": src}, {"AutoModel": "modeling_tiny.M"})
    record = gate(d, "dev")
    assert ("CODE-BANDIT-B506", "medium", "modeling_tiny.py:5") in findings(record, "CODE-")


def test_python_file_without_auto_map_is_still_code(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "stray", {"utils/setup_hook.py": "import os\nos.system('true')\n"}, auto_map={})
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [
        ("CODE-PRESENT", "info", "utils/setup_hook.py"),
        ("CODE-PROCESS", "critical", "utils/setup_hook.py:2"),
    ]
    assert props(components(record)["file:utils/setup_hook.py"])["code-role"] == "bundled-code"


def test_plain_model_without_code_passes(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "plain", {}, auto_map={})
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [] and findings(record, "MODEL-") == []
    assert record["input"]["code"] == []
    assert record["decision"]["allow"] and record["exit"] == 0


def test_processor_code(gate, tmp_path: Path) -> None:
    d = write_hf(tmp_path / "vision", {"image_processing_tiny.py": "class TinyImageProcessor:\n    pass\n"}, {})
    (d / "preprocessor_config.json").write_text(
        json.dumps({"auto_map": {"AutoImageProcessor": "image_processing_tiny.TinyImageProcessor"}})
    )
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [("CODE-PRESENT", "info", "image_processing_tiny.py")]
    proc = components(record)["file:image_processing_tiny.py"]
    assert props(proc)["code-role"] == "processor-code"
    assert props(proc)["code-entry"] == (
        "preprocessor_config.json: AutoImageProcessor: image_processing_tiny.TinyImageProcessor"
    )


def test_hub_cache_snapshot_remote_code_is_read_through_its_blob(gate, tmp_path: Path) -> None:
    """In the hub cache, snapshot files link to ../../blobs/<sha256>: the remote code is the blob,
    analysed with the digest the ML-BOM records (what trust_remote_code would import)."""
    import os

    staged = write_hf(
        tmp_path / "staged",
        {"configuration_tiny.py": BENIGN_CONFIG, "modeling_tiny.py": "import os\n\nos.system('true')\n"},
        AUTO_MAP,
    )
    repo = tmp_path / "hub" / "models--acme--tiny-remote"
    snap = repo / "snapshots" / ("0" * 40)
    (repo / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    for f in sorted(staged.iterdir()):
        digest = sha(f)
        f.rename(repo / "blobs" / digest)
        os.symlink(Path("..", "..", "blobs", digest), snap / f.name)
    record = gate(snap, "dev")
    assert [f for f in findings(record, "CODE-") if f[0] != "CODE-PRESENT"] == [
        ("CODE-PROCESS", "critical", "modeling_tiny.py:3")
    ]
    blob = Path(os.readlink(snap / "modeling_tiny.py")).name
    assert components(record)["file:modeling_tiny.py"]["hashes"][0]["content"] == blob
    assert "code-unsafe" in denied(record)


def test_oversized_code_file_is_not_passed(gate, tmp_path: Path) -> None:
    big = "x = 1\n" * (1 << 20)  # 6 MiB of Python: above the 4 MiB a code file may have
    d = write_hf(tmp_path / "big", {"modeling_tiny.py": big}, {"AutoModel": "modeling_tiny.M"})
    record = gate(d, "dev")
    assert findings(record, "CODE-") == [
        ("CODE-PRESENT", "info", "modeling_tiny.py"),
        ("CODE-UNSCANNABLE", "high", "modeling_tiny.py"),
    ]
    f = next(f for f in record["findings"] if f["id"] == "CODE-UNSCANNABLE")
    assert "larger than" in f["evidence"]["reason"]
    assert {"code-unsafe", "checks-incomplete"} <= denied(record)
