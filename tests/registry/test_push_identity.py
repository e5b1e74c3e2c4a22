"""One artifact identity across ``push`` and ``gate``: what ``scanner push PATH`` uploads is the
FileSet ``scanner gate PATH`` judges — for a lone requirements file, the file and every file it
includes — so the pulled copy has the local gate's artifact digest and verdict; what the gate
refuses to read, push refuses to upload, with the same error; and a manifest naming one of its
files as "the" file never gets the others excused."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from scanner.registry import mediatypes as mt
from scanner.registry.blobs import push_bytes
from scanner.registry.client import Client, RegistryError
from scanner.registry.manifest import Descriptor, build_manifest
from scanner.registry.source import open_source
from tests.registry.helpers import PLAIN, System

GATE = ("--stage", "dev", "-f", "json", "--no-ledger")


def _project(root: Path) -> Path:
    """``app/requirements.txt`` including ``base/common.txt``, which includes ``../pins.txt``
    (nested, with a folder); a constraint file (confined, never read) and a file nobody includes."""
    app = root / "app"
    (app / "base").mkdir(parents=True)
    (app / "requirements.txt").write_text("-r base/common.txt\nflask==2.0.0\n")
    (app / "base" / "common.txt").write_text("-r ../pins.txt\n-c ../constraints.txt\njinja2==2.11.2\n")
    (app / "pins.txt").write_text("requests==2.31.0\n")
    (app / "constraints.txt").write_text("urllib3<3\n")
    (app / "notes.md").write_text("not part of the requirements file\n")
    return app / "requirements.txt"


def _verdict(record: dict) -> tuple:
    """Kind, decision, findings and files; a finding about the artifact as a whole names it (the
    registry artifact is named after its repository, the local one after its file)."""
    decision = record["decision"]
    name = record["artifact"]["name"]
    return (
        record["artifact"]["kind"],
        decision["allow"],
        sorted(r["rule"] for r in decision["deny"]),
        sorted(r["rule"] for r in decision["warn"]),
        sorted((f["id"], "<name>" if f["subject"] == name else f["subject"]) for f in record["findings"]),
        sorted((f["path"], f["sha256"]) for f in record["artifact"]["files"]),
    )


def test_a_requirements_file_is_pushed_with_its_includes_and_gates_the_same(
    cli, registry, repo, tmp_path: Path
) -> None:
    requirements = _project(tmp_path)
    local = cli("gate", requirements, *GATE)
    assert local.code in (0, 1), local.err
    local_record = json.loads(local.out)
    assert {f["path"] for f in local_record["artifact"]["files"]} == {
        "requirements.txt",
        "base/common.txt",
        "pins.txt",
    }

    pushed = cli("push", requirements, registry.ref(repo, "v1"), "--plain-http")
    assert pushed.code == 0, pushed.err
    manifest = Client(registry.host, PLAIN).get_manifest(repo, "v1")
    assert [layer.annotations[mt.ANN_TITLE] for layer in manifest.layers] == [
        f["path"] for f in local_record["artifact"]["files"]
    ]
    assert manifest.annotations[mt.ANN_NAMED_FILE] == "requirements.txt"

    remote = cli("gate", registry.ref(repo, "v1"), "--plain-http", *GATE)
    assert remote.code == local.code, remote.err
    remote_record = json.loads(remote.out)
    assert _verdict(remote_record) == _verdict(local_record)
    assert remote_record["artifact"]["digest"] == manifest.digest  # its identity in the registry
    assert "VULN-KNOWN" in {f["id"] for f in remote_record["findings"]}  # jinja2 2.11.2, two includes down

    # the pulled copy, gated as a local file, is the same artifact: same digest, same verdict
    pulled = open_source(registry.ref(repo, "v1"), tmp_path / "work", PLAIN)
    assert pulled.root.name == "requirements.txt"
    copy = cli("gate", pulled.root, *GATE)
    assert copy.code == local.code, copy.err
    copy_record = json.loads(copy.out)
    assert copy_record["artifact"]["digest"] == local_record["artifact"]["digest"]
    assert _verdict(copy_record) == _verdict(local_record)


def _outside(app: Path) -> None:
    (app.parent / "outside.txt").write_text("requests==2.31.0\n")
    (app / "requirements.txt").write_text("-r ../outside.txt\n")


def _link(app: Path) -> None:
    (app / "real.txt").write_text("requests==2.31.0\n")
    (app / "linked.txt").symlink_to(app / "real.txt")
    (app / "requirements.txt").write_text("-r sub/../linked.txt\n")


def _fifo(app: Path) -> None:
    os.mkfifo(app / "pipe.txt")
    (app / "requirements.txt").write_text("requests==2.31.0\n-r pipe.txt\n")


def _missing(app: Path) -> None:
    (app / "requirements.txt").write_text("-r nowhere.txt\n")


def _deep_link(app: Path) -> None:
    (app / "base").mkdir()
    (app / "base" / "common.txt").write_text("-r ../linked.txt\n")
    (app / "real.txt").write_text("requests==2.31.0\n")
    (app / "linked.txt").symlink_to("real.txt")
    (app / "requirements.txt").write_text("-r base/common.txt\n")


@pytest.mark.parametrize("make", [_outside, _link, _fifo, _missing, _deep_link])
def test_an_include_the_gate_refuses_is_refused_by_push_with_the_same_error(
    make, cli, registry, repo, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    make(app)
    requirements = app / "requirements.txt"
    gate = cli("gate", requirements, *GATE)
    assert gate.code == 2, (gate.code, gate.err)
    pushed = cli("push", requirements, registry.ref(repo, "v1"), "--plain-http")
    assert pushed.code == 2, (pushed.code, pushed.err)
    error = gate.err.strip().splitlines()[-1]
    assert error and error == pushed.err.strip().splitlines()[-1]
    with pytest.raises(RegistryError):
        Client(registry.host, PLAIN).get_manifest(repo, "v1")  # nothing was tagged


def test_a_manifest_cannot_name_a_file_that_leaves_the_others_unjudged(cli, registry, repo, tmp_path: Path) -> None:
    """A hand-made manifest naming a clean requirements file as "the" file, beside a pickle the
    requirements file does not include: the whole tree is judged, the pickle found."""
    client = Client(registry.host, PLAIN)
    layers = []
    for name, data in (("requirements.txt", b"requests==2.31.0\n"), ("model.pkl", pickle.dumps(System()))):
        desc = push_bytes(client, repo, data, mt.GENERIC_FILE)
        layers.append(Descriptor(mt.GENERIC_FILE, desc.digest, desc.size, {mt.ANN_TITLE: name}))
    config = push_bytes(client, repo, mt.EMPTY_JSON, mt.OCI_EMPTY)
    manifest = build_manifest(
        config=config,
        layers=layers,
        artifact_type="application/vnd.scanner.artifact.requirements.v1",
        annotations={mt.ANN_NAMED_FILE: "requirements.txt"},
    )
    client.put_manifest(repo, "v1", manifest)
    r = cli("gate", registry.ref(repo, "v1"), "--plain-http", *GATE)
    assert r.code == 1, r.err
    record = json.loads(r.out)
    assert {f["path"] for f in record["artifact"]["files"]} == {"requirements.txt", "model.pkl"}
    assert any(f["id"].startswith("MODEL-PICKLE") and f["subject"] == "model.pkl" for f in record["findings"])


def test_an_empty_folder_of_a_directory_is_refused_by_push(cli, registry, repo, tmp_path: Path) -> None:
    """A registry artifact holds files only; an empty folder counts in the digest (and can decide
    the kind): the pulled copy would be another artifact."""
    app = tmp_path / "app"
    (app / "empty").mkdir(parents=True)
    (app / "requirements.txt").write_text("requests==2.31.0\n")
    r = cli("push", app, registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 2 and "empty folder 'empty'" in r.err, r.err


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda app: (app / "secret.txt").symlink_to(app.parent / "outside.txt"), "symlink leads out of the artifact"),
        (lambda app: (app / "gone.txt").symlink_to(app / "nowhere"), "dangling symlink"),
        (lambda app: os.mkfifo(app / "pipe"), "is a fifo, not a regular file"),
    ],
)
def test_what_a_directory_holds_besides_regular_files_stops_the_push(
    make, says, cli, registry, repo, tmp_path: Path
) -> None:
    """The gate lists these as findings, never read; a registry artifact cannot carry them, so
    its copy would be another artifact: nothing is uploaded or tagged (exit 2, naming the file)."""
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "outside.txt").write_text("secret\n")
    (app / "requirements.txt").write_text("requests==2.31.0\n")
    make(app)
    r = cli("push", app, registry.ref(repo, "v1"), "--plain-http")
    assert r.code == 2 and says in r.err and "not pushed" in r.err, r.err
    with pytest.raises(RegistryError):
        Client(registry.host, PLAIN).get_manifest(repo, "v1")
