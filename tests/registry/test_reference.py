"""Registry references: the one parser."""

from __future__ import annotations

import pytest

from scanner.errors import ScanError
from scanner.registry.options import parse_size
from scanner.registry.reference import parse_reference

DIGEST = "sha256:" + "a" * 64


def test_tag_digest_and_port() -> None:
    ref = parse_reference("oci://127.0.0.1:5000/ml/bert-base:v1.2")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000", "ml/bert-base", "v1.2", None)
    assert ref.reference == "v1.2" and str(ref) == "oci://127.0.0.1:5000/ml/bert-base:v1.2"
    pinned = parse_reference(f"oci://ghcr.io/org/model:v1@{DIGEST}")
    assert pinned.reference == DIGEST and pinned.tag == "v1"
    assert str(pinned.at(DIGEST)) == f"oci://ghcr.io/org/model@{DIGEST}"
    assert parse_reference("oci://localhost:5000/repo").tag is None


@pytest.mark.parametrize(
    "text",
    [
        "docker://host/repo:tag",
        "oci://repo-without-registry",
        "oci://host/Upper/Case:tag",
        "oci://host/repo:bad tag",
        "oci://host/repo@sha256:short",
        "oci://host/../etc:tag",
        "oci://ho st/repo:tag",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(ScanError):
        parse_reference(text)


def test_tag_required_where_it_must_move() -> None:
    with pytest.raises(ScanError, match="tag is needed"):
        parse_reference(f"oci://host/repo@{DIGEST}", require="tag")


def test_sizes() -> None:
    assert parse_size("1024") == 1024
    assert parse_size("500M") == 500 << 20
    assert parse_size("1.5G") == 3 << 29
    assert parse_size("2GiB") == 2 << 30
    with pytest.raises(ScanError):
        parse_size("lots")
