"""Session fixtures: the corpus is built once (torch, numpy and joblib write the benign files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.corpus import Sample, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Sample]]:
    root = tmp_path_factory.mktemp("model-corpus")
    return root, build_corpus(root)


@pytest.fixture(scope="session")
def corpus_scan(corpus: tuple[Path, list[Sample]]):  # type: ignore[no-untyped-def]
    from scanner.models.dispatch import scan_path

    root, _ = corpus
    return scan_path(root)
