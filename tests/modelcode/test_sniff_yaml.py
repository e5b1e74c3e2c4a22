"""Content sniffing never calls YAML a pickle. The root cause was protocol 0's GLOBAL opcode
(``c``): ``channels:`` at the start of every conda.yaml decodes as GLOBAL with the argument
``hannels: - conda-forge``. A name that is not a Python identifier cannot be imported, so the
unpickler would stop right there: it is not evidence of a pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from scanner.formats.sniff import PICKLE, TEXT, sniff, sniff_file


@pytest.mark.parametrize("name", ["conda.yaml", "MLmodel", "python_env.yaml", "requirements.txt"])
def test_mlflow_environment_files_are_text(made: Path, name: str) -> None:
    assert sniff_file(made / "mlflow-sklearn-skops" / name) == TEXT


@pytest.mark.parametrize(
    "text",
    [
        "channels:\n- conda-forge\ndependencies:\n- python=3.11\n",
        "include:\n  - base.yaml\nimport: x\n",
        "cache_dir: /tmp\ndtype: float32\n",
        "image: python:3.11\n",
    ],
)
def test_yaml_starting_with_an_opcode_letter_is_not_a_pickle(text: str) -> None:
    assert sniff(text.encode(), len(text)) == TEXT


@pytest.mark.parametrize("protocol", [0, 1])
def test_text_protocol_pickles_that_import_are_still_pickles(protocol: int) -> None:
    data = pickle.dumps(Path("x"), protocol=protocol)  # GLOBAL pathlib PosixPath
    assert data[:1] == b"c"
    assert sniff(data, len(data)) == PICKLE
    # a payload that imports a real name, then breaks: still a pickle (its import runs first)
    head = b"cos\nsystem\n(S'true'\ntR"
    assert sniff(head, len(head)) == PICKLE


def test_framed_pickle_with_an_odd_module_name_is_still_a_pickle() -> None:
    data = b"\x80\x02c[x](https://evil.example)\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    assert sniff(data, len(data)) == PICKLE
