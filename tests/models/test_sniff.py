"""Format by content: text is never taken for a pickle; protocol 0/1 pickles are still caught."""

from __future__ import annotations

import pickle

import pytest

from scanner.formats import sniff
from tests.models.corpus import System, inst_p0, obj_p1

TEXTS = [
    "# Model card\n\n(see below) This model is fine.\n",
    "cat\ndog\n(x\n",
    "I am a note.\n",
    "import os\nimport sys\n\ndef f():\n    return 1\n",
    '{"architectures": ["Bert"]}',
    "[1, 2, 3]\n",
    "]]]]\n",
    "(((((\n",
    "K\n",
    "a,b,c\n1,2,3\n",
    "version: 1\nname: x\n",
    'Licensed under the Apache License, Version 2.0 (the "License");\n' * 100,
    "S'unterminated\n",
    "Vhello\n",
    "0\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_never_a_pickle(text: str) -> None:
    data = text.encode()
    assert sniff.sniff(data[: sniff.HEAD_BYTES], len(data), "file.txt") != sniff.PICKLE


@pytest.mark.parametrize("proto", [0, 1, 2, 3, 4, 5])
def test_pickles_of_every_protocol_are_caught(proto: int) -> None:
    for value in (System(), {"a": 1}, [1.5, "x"]):
        data = pickle.dumps(value, protocol=proto)
        assert sniff.sniff(data, len(data), "weights.safetensors") == sniff.PICKLE


def test_hand_written_protocol_0_and_1_and_broken_tails() -> None:
    for data in (inst_p0(), obj_p1(), b"cos\nsystem\n(S'true'\ntR", b"cos\nsystem\n(S'true'\ntR\xff\xff"):
        assert sniff.sniff(data, len(data)) == sniff.PICKLE


def test_large_pickle_head_is_a_pickle() -> None:
    data = pickle.dumps({"big": bytes(1 << 20)}, protocol=4)
    assert sniff.sniff(data[: sniff.HEAD_BYTES], len(data)) == sniff.PICKLE
    text = ("I wrote this\n" * 1000).encode()
    assert sniff.sniff(text[: sniff.HEAD_BYTES], len(text)) == sniff.TEXT
