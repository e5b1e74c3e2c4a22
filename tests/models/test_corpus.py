"""Every malicious sample gets exactly its rule ids (and names its globals); no benign file is flagged."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.models.corpus import Sample


def _by_file(corpus_scan, root: Path) -> dict[str, list]:  # type: ignore[no-untyped-def]
    out: dict[str, list] = defaultdict(list)
    for f in corpus_scan.findings:
        top = f.subject.split("!", 1)[0]
        out[Path(top).relative_to(root).as_posix()].append(f)
    return out


def test_every_sample_gets_exactly_its_rules(corpus, corpus_scan) -> None:  # type: ignore[no-untyped-def]
    root, samples = corpus
    found = _by_file(corpus_scan, root)
    problems = []
    for sample in samples:
        got = found.get(sample.name, [])
        ids = {f.id for f in got}
        named = {f.evidence.get("global") for f in got}
        if ids != sample.expect or not sample.globals <= named:
            problems.append((sample.name, sorted(sample.expect), sorted(ids), sorted(sample.globals - named)))
    assert problems == []


def test_benign_files_are_clean_and_malicious_ones_are_not(corpus, corpus_scan) -> None:  # type: ignore[no-untyped-def]
    root, samples = corpus
    verdicts = {Path(f.path).relative_to(root).as_posix(): f.verdict for f in corpus_scan.files}
    assert set(verdicts) == {s.name for s in samples}  # every file has exactly one verdict
    for s in samples:
        if not s.expect:
            assert verdicts[s.name] == "clean", s.name
        elif "MODEL-UNSCANNABLE" in s.expect:
            assert verdicts[s.name] == "unscannable", s.name
        else:
            assert verdicts[s.name] == "findings", s.name
    benign = [s for s in samples if not s.expect]
    assert len(benign) >= 20


def test_findings_carry_subject_member_and_offset(corpus, corpus_scan) -> None:  # type: ignore[no-untyped-def]
    root, _ = corpus
    by_subject = {(f.subject, f.id): f for f in corpus_scan.findings}
    f = by_subject[(f"{root}/torch_other_member.pt!archive/extra/weights.pkl", "MODEL-PICKLE-GLOBAL")]
    assert f.severity.value == "critical" and f.evidence["format"] == "pickle"
    assert f.evidence["offset"] == 2 and "imports and calls" in f.message
    m = by_subject[(f"{root}/torch_mismatch_badcrc.pt!archive/data.pkl", "MODEL-ZIP-NAME-MISMATCH")]
    assert m.evidence["local_name"] == "archive/data.txt"
    g = by_subject[(f"{root}/payload_then_garbage.pkl", "MODEL-PICKLE-MALFORMED")]
    assert g.evidence["reason"] == "unknown opcode 0xff"
    nested = [x for x in corpus_scan.findings if x.subject.startswith(f"{root}/nested.tar.gz!")]
    assert [x.subject for x in nested] == [f"{root}/nested.tar.gz!nested.tar!inner/model.zip!archive/data.pkl"]


@pytest.mark.parametrize("name", ["torch_malicious.pt", "torch_legacy_malicious.pt", "joblib_malicious_lzma.joblib"])
def test_malicious_twins_are_critical(corpus, corpus_scan, name: str) -> None:  # type: ignore[no-untyped-def]
    root, _ = corpus
    sev = {f.severity.value for f in corpus_scan.findings if f.subject.startswith(f"{root}/{name}")}
    assert sev == {"critical"}


def test_samples_cover_each_technique(corpus) -> None:  # type: ignore[no-untyped-def]
    _, samples = corpus
    names = {s.name for s in samples}
    assert isinstance(samples[0], Sample)
    for needed in ("memo_split.pkl", "dynamic_global.pkl", "py2_names.pkl", "stacked.pkl", "zip_bomb.zip", "deep.gz"):
        assert needed in names
