"""`scanner batch` on the local process pool: verdicts, exit codes, evidence, summary formats."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

from tests.batch.conftest import clean_model


def _run(cli, tmp_path: Path, *args: str | Path):
    return cli("batch", *args, "--workers", "2", "--cache", tmp_path / "cache", "--records", tmp_path / "records")


def test_verdicts_records_ledger_and_exit_code(cli, estate, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    r = _run(cli, tmp_path, estate["clean-a"], estate["evil"], estate["clean-b"], "--ledger", ledger, "-f", "json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    by_name = {Path(x["source"]).name: x for x in doc["results"]}
    assert [Path(x["source"]).name for x in doc["results"]] == ["clean-a", "evil", "clean-b"]  # input order
    assert by_name["clean-a"]["allow"] is True and by_name["clean-a"]["deny"] == []
    assert by_name["evil"]["allow"] is False
    assert [d["rule"] for d in by_name["evil"]["deny"]] == ["model-unsafe"]
    assert "MODEL-PICKLE-GLOBAL" in by_name["evil"]["deny"][0]["message"]
    assert doc["counts"] == {"artifacts": 3, "allowed": 2, "denied": 1, "errors": 0, "cached": 0}
    # one evidence record per artifact, written by the driver, with the driver's policy paths
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "evidence-schema.json").read_text())
    for entry in doc["results"]:
        record = json.loads(Path(entry["record"]).read_text())
        jsonschema.Draft202012Validator(schema).validate(record)
        assert record["artifact"]["digest"] == entry["digest"]
        assert record["decision"]["allow"] is entry["allow"]
        assert "scanner-batch-" not in record["inputs"]["policy"]["path"]
        assert record["batch"]["run"] == doc["run"]
    # one ledger writer: three decisions, one intact chain
    from scanner.evidence.ledger import Ledger

    with Ledger(ledger, create=False) as led:
        assert led.verify().ok
        assert sorted(e.artifact for e in led.entries()) == ["clean-a", "clean-b", "evil"]
    # the digest is the one `scanner gate` computes for the same directory
    gate = cli("gate", estate["evil"], "--no-ledger", "-f", "json")
    assert json.loads(gate.out)["artifact"]["digest"] == by_name["evil"]["digest"]
    # results were streamed on stderr as they finished (no progress bar: not a terminal)
    assert "DENIED" in r.err and "\x1b" not in r.err


def test_all_allowed_exits_0_and_sources_from_a_file(cli, estate, tmp_path: Path) -> None:
    listing = tmp_path / "estate.txt"
    listing.write_text(f"# models\n{estate['clean-a']}\n\n{estate['clean-b']}\n{estate['clean-a']}\n")
    r = _run(cli, tmp_path, "--from", listing, "--no-ledger", "-f", "table")
    assert r.code == 0, r.err
    assert r.out.count("ALLOWED") == 2  # the duplicate line is judged once
    assert "2 artifact(s) for dev: 2 allowed, 0 denied, 0 not judged" in r.out


def test_unjudgeable_artifact_exits_2_and_is_named(cli, estate, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    r = _run(cli, tmp_path, estate["evil"], missing, "--no-ledger", "-f", "json")
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["not_judged"] == [str(missing)]
    err = next(x for x in doc["results"] if x["source"] == str(missing))
    assert err["allow"] is None and "no such file or directory" in err["error"]
    assert str(missing) in r.err  # the summary on stderr names it too
    assert Path(err["record"]).is_file()


def test_summary_formats(cli, estate, tmp_path: Path) -> None:
    out = tmp_path / "out"
    hostile = clean_model(tmp_path / "<script>alert(1)</script>", 3)
    missing = tmp_path / "missing"
    r = _run(
        cli,
        tmp_path,
        estate["evil"],
        hostile,
        missing,
        "--no-ledger",
        "--stage",
        "dev",
        "-f",
        f"html={out / 'estate.html'}",
        "-f",
        f"sarif={out / 'estate.sarif'}",
        "-f",
        "table",
    )
    assert r.code == 2, r.err
    html = (out / "estate.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp
    policy = html_lib.unescape(csp.group(1))
    assert "script-src 'none'" in policy and "default-src 'none'" in policy
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-verdict="ERRORS"' in html and "model-unsafe" in html
    links = re.findall(r'href="([^"]+)"', html)
    assert links and all((out / link).resolve().is_file() for link in links)  # links reach the records
    assert "MODEL-PICKLE-GLOBAL" in html  # the denied artifact's reason
    sarif = json.loads((out / "estate.sarif").read_text())
    run = sarif["runs"][0]
    assert [x["ruleId"] for x in run["results"]] == ["POLICY/model-unsafe"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/evil")
    assert run["invocations"][0]["executionSuccessful"] is False
    assert str(missing) in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    assert "DENIED   " in r.out and "ERROR    " in r.out and "not judged: " in r.out


def test_progress_bar_only_on_a_terminal_without_no_color(estate, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    def stderr_on_a_terminal(env: dict[str, str]) -> bytes:
        primary, secondary = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", "batch", estate["clean-a"], "--no-cache", "--no-ledger"],
            stdout=subprocess.DEVNULL,
            stderr=secondary,
            env={**env, "COLUMNS": "100"},
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        os.close(primary)
        assert proc.returncode == 0
        return b"".join(chunks)

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    with_bar = stderr_on_a_terminal(env)
    assert b"judging" in with_bar and b"\x1b[" in with_bar and b"ALLOWED" in with_bar
    plain = stderr_on_a_terminal({**env, "NO_COLOR": "1"})
    assert b"judging" not in plain and b"\x1b" not in plain and b"ALLOWED" in plain


def test_a_worker_with_other_inputs_judges_nothing(estate) -> None:
    """A worker whose database snapshot (or scanner version) differs from the driver's would not
    give the same verdicts: each of its artifacts is an error naming what differs."""
    from dataclasses import replace

    from scanner.batch import job
    from scanner.batch.model import Task
    from scanner.cli.batch import build_options

    options = build_options("dev", None, None, None, None, None, 60)
    context = dict(options.context)
    context["db"] = "another snapshot"
    other = replace(options, run_id="mismatch", context=tuple(sorted(context.items())))
    result = job.run_task(Task(0, str(estate["clean-a"])), other)
    assert result.error is not None and "db differ from the driver's" in result.error
    assert job.run_task(Task(0, str(estate["clean-a"])), options).allow is True
    job.forget("mismatch")
    job.forget(options.run_id)
    from scanner import ui

    ui.configure(quiet=False, no_color=False, debug=False)  # run_task quietened this process


def test_a_policy_that_does_not_compile_stops_the_run_naming_the_file(cli, estate, tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "gate.rego").write_text("package scanner.gate\nallow := true if {\n")
    r = cli("batch", estate["clean-a"], "--policy", policy, "--no-cache", "--no-ledger", "-f", "json")
    assert r.code == 2 and r.out == ""
    assert f"{policy / 'gate.rego'}:" in r.err and "does not compile" in r.err
