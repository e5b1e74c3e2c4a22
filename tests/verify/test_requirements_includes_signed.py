"""A requirements file judged alone is the file and its includes (one artifact digest): a
signature counts for it only when it covers all of them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.verify.conftest import sha256, sign_dsse, statement
from tests.verify.test_keyed import key_signed_bundle

PREDICATE = "https://example.com/review/v1"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "more").mkdir()
    (tmp_path / "other.txt").write_text("-r more/deeper.txt\n")
    (tmp_path / "more" / "deeper.txt").write_text("jinja2==2.11.2\n")
    req = tmp_path / "requirements.txt"
    req.write_text("-r other.txt\nsix==1.16.0\n")
    return req


def test_a_message_signature_of_the_named_file_does_not_sign_its_includes(cli, tmp_path: Path, keys) -> None:
    req = _project(tmp_path)
    req.with_name("requirements.txt.sigstore.json").write_text(json.dumps(key_signed_bundle(req, keys["signer"].key)))
    run = cli("verify", req, "--key", keys["signer"].public)
    assert run.code == 1, run.out
    assert "covers 1 of 3 files of the requirements file and its includes" in run.out
    assert "more/deeper.txt, other.txt" in run.out or "other.txt, more/deeper.txt" in run.out
    alone = tmp_path / "alone.txt"  # without includes the same signature still counts
    alone.write_text("six==1.16.0\n")
    alone.with_name("alone.txt.sigstore.json").write_text(json.dumps(key_signed_bundle(alone, keys["signer"].key)))
    assert cli("verify", alone, "--key", keys["signer"].public).code == 0


def test_a_statement_counts_when_it_names_the_artifact_digest_or_every_file(cli, tmp_path: Path, keys) -> None:
    req = _project(tmp_path)
    digest = json.loads(cli("audit", req, "-f", "json", "--fail-on", "none").out)["artifact"]["digest"]
    envelope = req.with_name("requirements.txt.intoto.jsonl")
    flags = ["--key", keys["signer"].public, "--bundle", envelope]

    def verify(subjects: list[tuple[str, str]]) -> int:
        envelope.write_text(json.dumps(sign_dsse(statement(subjects, PREDICATE, {}), keys["signer"])) + "\n")
        run = cli("verify", req, *flags)
        return run.code

    assert verify([("requirements.txt", digest.removeprefix("sha256:"))]) == 0
    each = [(p, sha256(tmp_path / p)) for p in ("requirements.txt", "other.txt", "more/deeper.txt")]
    assert verify(each) == 0
    assert verify(each[:1]) == 1  # the named file alone: its includes are not signed
