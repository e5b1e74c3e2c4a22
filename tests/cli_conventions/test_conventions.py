"""The conventions users of trivy, grype, pip-audit and cosign expect, each on the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from tests.conftest import REPO, run_process

APP = REPO / "examples" / "app" / "requirements.txt"
ESC = b"\x1b"


def _pty_run(args: list[str], env: dict[str, str], code: str | None = None) -> tuple[int, bytes]:
    """Run scanner with stdout and stderr on a pseudo-terminal (so "auto" means colour), and
    return everything the terminal received. ``code`` runs instead of ``-m scanner`` (to lower the
    progress threshold in that process)."""
    primary, secondary = pty.openpty()
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "scanner", *args]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    out = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    return proc.wait(timeout=60), out


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")
        and (not k.startswith("SCANNER_") or k == "SCANNER_CACHE_DIR")
    }
    env.update({"PYTHONPATH": str(REPO), "TERM": "xterm-256color"}, **extra)
    return env


BIG_FILE = (
    "import sys, scanner.files as f; f.PROGRESS_BYTES = 1 << 20;"  # a bar from 1 MiB on
    "from scanner.cli import main; main(sys.argv[1:])"
)


@pytest.fixture(scope="module")
def big_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "weights.bin"
    path.write_bytes(os.urandom(1 << 16) * 96)  # 6 MiB of opaque bytes
    return path


@pytest.mark.slow
def test_a_terminal_gets_colour_and_a_progress_bar_for_one_large_file(big_model: Path) -> None:
    code, out = _pty_run(["scan", str(big_model), "--fail-on", "none"], _env(), BIG_FILE)
    assert code in (0, 1), out[-500:]
    assert ESC in out  # colour and the bar's cursor movements
    assert b"reading weights.bin" in out or b"hashing weights.bin" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-color"], {}), ([], {"NO_COLOR": "1"}), (["--color", "never"], {}), (["--no-progress", "--no-color"], {})],
    ids=["--no-color", "NO_COLOR", "--color never", "--no-progress"],
)
def test_no_colour_means_no_escape_byte_on_either_stream(big_model: Path, args: list[str], env: dict[str, str]) -> None:
    code, out = _pty_run([*args, "scan", str(big_model), "--fail-on", "none"], _env(**env), BIG_FILE)
    assert code in (0, 1), out[-500:]
    assert ESC not in out, out[:300]
    assert b"weights.bin" in out  # the report itself is there


def test_empty_no_color_does_not_count_and_color_always_colours_a_pipe(cli: Any) -> None:
    from scanner import ui

    ui.configure(color="auto")
    os.environ["NO_COLOR"] = ""
    try:
        assert not ui.color_enabled()  # a pipe under pytest: auto means no
        ui.configure(color="always")
        assert ui.color_enabled()
    finally:
        del os.environ["NO_COLOR"]
        ui.configure(color="auto")
    run = run_process("--color", "always", "gate", str(APP), "--no-ledger", env=_env())
    assert "\x1b[" in run.out


def test_no_progress_flag_and_quiet_draw_no_bar() -> None:
    from scanner import ui

    ui.configure(progress=False)
    try:
        assert not ui.progress_enabled()
    finally:
        ui.configure(progress=True)


# -- output destinations -------------------------------------------------------------------


def test_dash_means_stdout(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["-o", "-", "-f", "json"], ["-f", "json=-"]):
        run = cli("audit", APP, "--fail-on", "none", *args)
        assert run.code == 0 and json.loads(run.out)["command"] == "audit", run.err
    assert not (tmp_path / "-").exists()


def test_report_paths_with_spaces(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "my reports" / "gate report.sarif"
    run = cli("gate", APP, "--no-ledger", "-f", f"sarif={target}", "-f", "json=-")
    assert run.code in (0, 1) and json.loads(target.read_text())["version"] == "2.1.0"


@pytest.mark.parametrize(
    "argv",
    [
        ["gate", str(APP), "-o", "json"],
        ["audit", str(APP), "-o", "json"],
        ["scan", str(APP), "-o", "sarif"],
        ["sbom", str(APP), "-o", "json"],
        ["verify", str(APP), "-o", "json"],
        ["report", "--ledger", "x.db", "-o", "html"],
        ["report", "render", "x.json", "-o", "json"],
        ["report", "verify-ledger", "x.db", "-o", "json"],
        ["version", "-o", "json"],
        ["db", "status", "-o", "json"],
        ["config", "-o", "json"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_the_o_json_habit_gets_a_hint_in_every_command(cli: Any, argv: list[str]) -> None:
    run = cli(*argv)
    assert run.code == 2
    assert re.search(r"--format \w|--json|formats are", run.err), run.err


def _commands() -> list[tuple[list[str], click.Command]]:
    from scanner.cli import cli as root

    ctx = click.Context(root, info_name="scanner")
    out = []
    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        assert cmd is not None
        out.append(([name], cmd))
        if isinstance(cmd, click.Group):
            out += [([name, sub], cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx)]  # type: ignore[misc]
    return out


def _listed_formats(cmd: click.Command) -> list[str]:
    for p in cmd.params:
        if isinstance(p, click.Option) and "--format" in p.opts:
            if isinstance(p.type, click.Choice):
                return list(p.type.choices)
            m = re.search(r"One of: ([\w, -]+?)(?: \(default|\.|$)", p.help or "")
            assert m, f"{cmd.name}: --format lists no formats"
            return [f.strip() for f in m.group(1).split(",")]
    return []


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import zipfile

    from scanner.cli import main

    root = tmp_path_factory.mktemp("formats")
    record, ledger = root / "gate.json", root / "ledger.db"
    osv = {
        "id": "PYSEC-0000-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "idna"}, "versions": ["3.4"]}],
    }
    (root / "osv").mkdir()
    (root / "osv" / "PYSEC-0000-1.json").write_text(json.dumps(osv))
    with zipfile.ZipFile(root / "all.zip", "w") as dump:  # what `db update` downloads, as a file: URL
        dump.writestr("PYSEC-0000-1.json", json.dumps(osv))
    with contextlib.suppress(SystemExit):
        main(["gate", str(APP), "--ledger", str(ledger), "-q", "-f", f"json={record}"])
    return {"record": record, "ledger": ledger, "root": root}


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real registry (tests/registry's launcher) holding the example model."""
    from tests.registry.conftest import launch

    registry = launch(tmp_path_factory.mktemp("registry"))
    try:
        model = tmp_path_factory.mktemp("model")
        (model / "config.json").write_text('{"model_type": "bert"}')
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "push", str(model), registry.ref("docs/m", "build"), "--plain-http"],
            capture_output=True,
            env=_env(),
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        registry.key = model.parent / "promotion-key.pem"
        registry.key.write_bytes(key)
        yield registry
    finally:
        registry.kill()


@pytest.mark.slow
def test_every_format_listed_in_help_works_for_its_command(cli: Any, inputs: dict[str, Path], pushed: Any) -> None:
    args = {
        ("promote",): [
            pushed.ref("docs/m", "build"),
            pushed.ref("docs/m", "dev"),
            "--stage",
            "dev",
            "--plain-http",
            "--no-ledger",
            "--sign-key",
            str(pushed.key),
        ],
        ("status",): [pushed.ref("docs/m"), "--plain-http"],
        ("batch",): [str(APP), "--workers", "1", "--no-ledger", "--cache", str(inputs["root"] / "batch-cache")],
        ("gate",): [str(APP), "--no-ledger"],
        ("audit",): [str(APP), "--fail-on", "none"],
        ("scan",): [str(APP), "--fail-on", "none"],
        ("sbom",): [str(APP)],
        ("verify",): [
            str(REPO / "tests" / "verify" / "assets" / "bundle_v3_github.whl"),
            "--github-repository",
            "trailofbits/rfc8785.py",
        ],
        ("report",): ["--ledger", str(inputs["ledger"])],
        ("report", "render"): [str(inputs["record"])],
        ("db", "status"): [],
        ("db", "import"): [str(inputs["root"] / "osv"), "--db", str(inputs["root"] / "imported.db")],
        ("db", "update"): ["--url", (inputs["root"] / "all.zip").as_uri(), "--db", str(inputs["root"] / "updated.db")],
        ("version",): [],
        ("config",): [],
    }
    tried = 0
    for path, cmd in _commands():
        formats = _listed_formats(cmd)
        if not formats:
            continue
        assert tuple(path) in args, f"scanner {' '.join(path)} lists formats but has no test input"
        for fmt in formats:
            out = inputs["root"] / f"{'-'.join(path)}.{fmt}"
            run = cli(*path, *args[tuple(path)], "-f", f"{fmt}={out}" if "FMT" in str(cmd.params) else fmt)
            assert run.code in (0, 1), f"scanner {' '.join(path)} -f {fmt}: {run.err}"
            tried += 1
    assert tried >= 25


# -- stdin ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sbom_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "sbom", str(APP)], capture_output=True, env=_env(), timeout=120, check=True
    )
    return proc.stdout


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
@pytest.mark.parametrize("command", ["sbom", "audit", "gate"])
def test_an_sbom_on_stdin(sbom_bytes: bytes, command: str, name: str) -> None:
    extra = {"gate": ["--no-ledger"], "audit": ["--fail-on", "none"], "sbom": []}[command]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            command,
            name,
            *extra,
            "-f",
            "cyclonedx-json" if command == "sbom" else "json",
        ],
        input=sbom_bytes,
        capture_output=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    doc = json.loads(proc.stdout)
    if command == "sbom":
        names = {c["name"] for c in doc["components"]}
    else:
        assert doc["artifact"]["kind"] == "sbom" and doc["artifact"]["name"] == "stdin"
        # gate carries the inventory as its SBOM, audit as its component list
        names = {c["name"] for c in (doc["sbom"] or doc)["components"]}
    assert {"flask", "idna", "urllib3"} <= names  # every byte was read once, by the reader


def test_empty_stdin_is_an_error_naming_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "audit", "-"], input=b"", capture_output=True, env=_env(), timeout=60
    )
    assert proc.returncode == 2 and b"standard input is empty" in proc.stderr


def test_policy_eval_reads_its_input_from_stdin(tmp_path: Path) -> None:
    saved = tmp_path / "in.json"
    run_process("gate", APP, "--no-ledger", "-q", "--save-input", saved, env=_env())
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "policy", "eval", "--input", "-"],
        input=saved.read_bytes(),
        capture_output=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    assert "allow" in json.loads(proc.stdout)


# -- options users bring from the other tools ---------------------------------------------------


def test_audit_r_as_pip_audit(cli: Any) -> None:
    by_r = cli("audit", "-r", APP, "-f", "json", "--fail-on", "none")
    positional = cli("audit", APP, "-f", "json", "--fail-on", "none")
    assert by_r.code == positional.code == 0
    assert json.loads(by_r.out)["findings"] == json.loads(positional.out)["findings"]
    assert cli("audit", APP, "-r", APP).code == 2


def test_scan_takes_waivers(cli: Any, tmp_path: Path) -> None:
    import pickle

    class Evil:
        def __reduce__(self) -> Any:
            return (os.system, ("true",))

    model = tmp_path / "evil.pkl"
    model.write_bytes(pickle.dumps(Evil(), protocol=2))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - id: W-1\n    selector: {rule: MODEL-PICKLE-GLOBAL}\n    reason: a test fixture\n"
        "    owner: sec@example.org\n    expires: 2099-01-01\n"
    )
    assert cli("scan", model).code == 1
    run = cli("scan", model, "--waivers", waivers, "-f", "json")
    assert run.code == 0, run.err
    (finding,) = [f for f in json.loads(run.out)["findings"] if f["id"] == "MODEL-PICKLE-GLOBAL"]
    assert finding["waived"]["id"] == "W-1"


def test_quiet_leaves_only_errors_and_verbose_adds_stages_not_the_version(cli: Any, tmp_path: Path) -> None:
    quiet = cli("-q", "gate", APP, "--no-ledger", "-f", f"json={tmp_path / 'g.json'}")
    assert quiet.code in (0, 1) and quiet.err == ""
    verbose = cli("-v", "gate", APP, "--no-ledger", "-f", f"json={tmp_path / 'g.json'}")
    assert "check vulns:" in verbose.err and "decide: promotion to dev" in verbose.err
    assert "0.1.0" not in verbose.err.split("decide:")[0].split("identify:")[0]
    after = cli("gate", APP, "--no-ledger", "-v", "-q", "-f", f"json={tmp_path / 'g.json'}")
    assert after.err == ""
    assert cli("-v", "--help").code == 0  # -v is not --version
    assert "Show the version" not in next(o.help for o in _root_options() if "-v" in o.opts)  # type: ignore[operator]


def _root_options() -> list[click.Option]:
    from scanner.cli import cli as root

    return [p for p in root.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("columns", [60, 100, 160])
def test_the_table_follows_columns(columns: int) -> None:
    run = run_process("gate", APP, "--no-ledger", env=_env(COLUMNS=str(columns)))
    widths = [len(line) for line in run.out.splitlines()]
    assert max(widths) <= columns and max(widths) >= columns - 10, (columns, max(widths))


# -- scanner config -----------------------------------------------------------------------------


def test_config_shows_each_value_and_where_it_came_from(tmp_path: Path) -> None:
    conf = tmp_path / "ci.toml"
    conf.write_text('fail-on = "high"\nledger = "ledger.db"\n')
    run = run_process(
        "--config", conf, "config", "-f", "json", env=_env(SCANNER_DB=str(tmp_path / "osv.db"), NO_COLOR="1")
    )
    doc = json.loads(run.out)
    assert doc["config"] == {"value": str(conf), "source": "flag"}
    assert doc["fail-on"] == {"value": "high", "source": f"config:{conf}"}
    assert doc["ledger"]["value"] == str(tmp_path / "ledger.db")
    assert doc["db"] == {"value": str(tmp_path / "osv.db"), "source": "env:SCANNER_DB"}
    assert doc["waivers"]["source"] == "default" and doc["color"] == {"value": "never", "source": "env:NO_COLOR"}


def test_generated_default_config_is_commented_and_loads(tmp_path: Path) -> None:
    from scanner.config import KEYS, load_config

    text = run_process("config", "--generate-default-config", env=_env()).out
    conf = tmp_path / "config.toml"
    conf.write_text(text)
    assert load_config(conf) == {}  # every line a comment: it changes nothing
    for key in KEYS:
        assert f"# {key} = " in text
    uncommented = conf.read_text().replace("# fail-on = ", "fail-on = ")
    conf.write_text(uncommented)
    assert load_config(conf) == {"fail_on": "low"}
