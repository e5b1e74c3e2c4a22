"""CLI conventions: exit codes, streams, formats, errors without tracebacks, configuration."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import REPO, run_process


def _model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text('{"model_type": "bert"}')
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (d / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    return d


def test_version(cli) -> None:
    r = cli("--version")
    assert r.code == 0 and "scanner, version" in r.out
    r = cli("version", "--format", "json")
    info = json.loads(r.out)
    assert info["tool"] == "scanner" and "json" in info["report_formats"]


def test_gate_allowed_exit_0_and_stdout_is_only_the_report(cli, tmp_path: Path) -> None:
    r = cli("gate", _model_dir(tmp_path), "--stage", "dev", "--format", "json")
    assert r.code == 0
    record = json.loads(r.out)  # nothing but the report on stdout
    assert record["decision"]["allow"] is True
    assert record["stage"] == "dev"


def test_gate_denied_exit_1(cli, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("flask>=2\nflask ==\n")  # an unparseable line: a medium finding, which prod blocks
    r = cli("gate", req, "--stage", "prod", "--format", "json")
    assert r.code == 1
    decision = json.loads(r.out)["decision"]
    assert not decision["allow"]
    assert decision["deny"] and all(d["rule"] for d in decision["deny"])


def test_missing_path_exit_2_one_line(cli, tmp_path: Path) -> None:
    r = cli("gate", tmp_path / "missing")
    assert r.code == 2
    assert r.out == ""
    assert r.err.strip().splitlines() == [f"scanner: error: {tmp_path / 'missing'}: no such file or directory"]


def test_unreadable_file_exit_2(cli, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads anything: make it unreadable by making it a dangling path inside a file
        bad = tmp_path / "file" / "inside"
        (tmp_path / "file").write_text("x")
    else:  # pragma: no cover
        bad = tmp_path / "locked.bin"
        bad.write_bytes(b"x")
        bad.chmod(0)
    r = cli("gate", bad)
    assert r.code == 2 and "Traceback" not in r.err and str(bad) in r.err


def test_bad_flag_exit_2(cli, tmp_path: Path) -> None:
    r = cli("gate", _model_dir(tmp_path), "--stage", "qa")
    assert r.code == 2 and "Traceback" not in r.err and "unknown stage 'qa'" in r.err
    r = cli("scan", _model_dir(tmp_path), "--fail-on", "severe")
    assert r.code == 2 and "unknown severity 'severe'" in r.err


def test_dash_o_with_a_format_name_gets_a_hint(cli, tmp_path: Path) -> None:
    r = cli("gate", _model_dir(tmp_path), "-o", "json")
    assert r.code == 2
    assert "--format json" in r.err
    assert not Path("json").exists()


def test_several_formats_in_one_run(cli, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "gate.json"
    r = cli("gate", _model_dir(tmp_path), "--format", "table", "--format", f"json={out}")
    assert r.code == 0
    assert "decision: ALLOWED" in r.out
    assert json.loads(out.read_text())["decision"]["allow"] is True
    assert f"wrote json report to {out}" in r.err


def test_two_formats_to_stdout_is_refused(cli, tmp_path: Path) -> None:
    r = cli("gate", _model_dir(tmp_path), "--format", "table", "--format", "json")
    assert r.code == 2 and "only one format can go to stdout" in r.err


def test_unknown_format(cli, tmp_path: Path) -> None:
    r = cli("gate", _model_dir(tmp_path), "--format", "pdf")
    assert r.code == 2 and "unknown format 'pdf'" in r.err


def test_env_var_and_config_precedence(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("flask>=2\nflask ==\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCANNER_STAGE", None)
    # unparseable requirement → medium finding: allowed at dev (blocks critical), denied at prod
    assert run_process("gate", req, "--format", "json", cwd=tmp_path, env=env).code == 0
    env_prod = {**env, "SCANNER_STAGE": "prod"}
    assert run_process("gate", req, "--format", "json", cwd=tmp_path, env=env_prod).code == 1
    # flag beats environment
    assert run_process("gate", req, "--stage", "dev", "--format", "json", cwd=tmp_path, env=env_prod).code == 0
    # a config file in the working directory is never read (it may be the checkout under review)
    (tmp_path / "scanner.toml").write_text("bogus = 1\n")
    assert run_process("gate", req, "--format", "json", cwd=tmp_path, env=env).code == 0
    # a named one is; a bad key is a clear error
    r = run_process("gate", req, cwd=tmp_path, env={**env, "SCANNER_CONFIG": str(tmp_path / "scanner.toml")})
    assert r.code == 2 and "unknown config key(s): bogus" in r.err and "scanner.toml" in r.err


def test_config_policy_dir_relative_to_config(tmp_path: Path, cli, monkeypatch) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "gate.rego").write_text(
        "package scanner.gate\nimport rego.v1\ndefault allow := false\n"
        'deny contains {"rule": "always", "message": "custom policy says no"} if true\n'
    )
    (tmp_path / "pyproject.toml").write_text('[tool.scanner]\npolicy = "pol"\n')
    monkeypatch.chdir(tmp_path)
    assert cli("gate", _model_dir(tmp_path), "--format", "json").code == 0  # not discovered
    r = cli("--config", tmp_path / "pyproject.toml", "gate", _model_dir(tmp_path), "--format", "json")
    assert r.code == 1
    assert json.loads(r.out)["decision"]["deny"][0]["message"] == "custom policy says no"


def test_policy_compile_error_is_exit_2_never_allow(cli, tmp_path: Path) -> None:
    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "gate.rego").write_text("package scanner.gate\nallow if {\n")
    r = cli("gate", _model_dir(tmp_path), "--policy", pol)
    assert r.code == 2 and "policy" in r.err and "Traceback" not in r.err


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from scanner.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "for cmd in ['gate','scan','sbom','policy','report','version']:\n"
        "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('sigstore','modelscan','numpy','cyclonedx','regopy','rich','jinja2','torch','pip_audit')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_markdown_report_escapes_hostile_names(cli, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("evil<script>|x==1.0 ; python_version>'0'\nflask>=2\n")
    r = cli("gate", req, "--stage", "prod", "--format", "markdown")
    assert r.code == 1
    assert "❌ promotion to prod denied" in r.out
    assert "<script>" not in r.out
    assert "| medium | SBOM-UNPARSEABLE-REQUIREMENT |" in r.out


def test_unreadable_policy_data_is_a_named_error(cli, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_bytes(b"\xff\xfe{")
    r = cli("gate", _model_dir(tmp_path), "--data", data, "--no-ledger")
    assert r.code == 2 and f"{data}: cannot read policy data file" in r.err and "internal error" not in r.err
