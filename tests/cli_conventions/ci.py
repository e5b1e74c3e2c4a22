"""Run the CI templates as their CI systems would, on this machine.

GitHub: a composite action's steps in order, with the subset of the expression language the
action uses (contexts, literals, ``== != && || !``, ``always() success() failure() format()``),
``if:``, ``continue-on-error``, ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY``; ``run:`` steps
execute in bash exactly as the runner starts them (``bash --noprofile --norc -eo pipefail``).
``uses:`` steps are the hosted actions, stood in for by the callables the test passes.

GitLab: a job after ``extends:`` and ``!reference`` are resolved, its script lines joined into
one bash script (``set -eo pipefail``), as the shell executor does.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# ---------------------------------------------------------------- GitHub expressions

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|(?P<name>[A-Za-z_][\w.\-]*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse expression at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Expr:
    """Recursive descent over: or := and ('||' and)*; and := unary ('&&' unary)*;
    unary := '!' unary | cmp; cmp := primary (('=='|'!=') primary)?"""

    def __init__(self, text: str, ctx: Mapping[str, Any], status: Callable[[str], bool]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx
        self.status = status

    def value(self) -> Any:
        v = self._or()
        if self.i != len(self.toks):
            raise ValueError(f"trailing tokens {self.toks[self.i :]}")
        return v

    def _peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def _take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _or(self) -> Any:
        v = self._and()
        while self._peek() == "||":
            self._take()
            rhs = self._and()
            v = v if _truthy(v) else rhs
        return v

    def _and(self) -> Any:
        v = self._unary()
        while self._peek() == "&&":
            self._take()
            rhs = self._unary()
            v = rhs if _truthy(v) else v
        return v

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        v = self._primary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            rhs = self._primary()
            same = str(v).lower() == str(rhs).lower()  # GitHub compares strings case-insensitively
            return same if op == "==" else not same
        return v

    def _primary(self) -> Any:
        kind, tok = self._take()
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if tok == "(":
            v = self._or()
            assert self._take()[1] == ")"
            return v
        if kind == "name" and self._peek() == "(":
            self._take()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take()
            if tok in ("always", "success", "failure", "cancelled"):
                return self.status(tok)
            if tok == "format":
                fmt, *rest = args
                return re.sub(r"\{(\d+)\}", lambda m: str(rest[int(m.group(1))]), fmt)
            raise ValueError(f"function {tok} not supported")
        if tok in ("true", "false"):
            return tok == "true"
        node: Any = self.ctx
        for part in tok.split("."):
            node = node.get(part, "") if isinstance(node, Mapping) else ""
        return node


def _truthy(v: Any) -> bool:
    return bool(v) and v != "0" if not isinstance(v, str) else v != ""


def substitute(text: str, ctx: Mapping[str, Any], status: Callable[[str], bool]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _text(Expr(m.group(1), ctx, status).value()), text)


def _text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


# ---------------------------------------------------------------- GitHub composite action


@dataclass
class StepRun:
    name: str
    ran: bool
    outcome: str  # success | failure | skipped
    with_: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobResult:
    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)

    def step(self, name_part: str) -> StepRun:
        return next(s for s in self.steps if name_part in s.name)


def run_action(
    action_file: Path,
    inputs: Mapping[str, str],
    *,
    workspace: Path,
    runner_temp: Path,
    uses: Mapping[str, Callable[[dict[str, str]], tuple[bool, dict[str, str]]]],
    github: Mapping[str, str],
    env: Mapping[str, str],
    summary_file: Path,
) -> JobResult:
    """One use of the composite action in a job; ``uses`` maps an action (``owner/name``) to a
    stand-in taking the step's ``with:`` and returning (succeeded, outputs)."""
    action = yaml.safe_load(action_file.read_text())
    given = {k: v["default"] for k, v in action["inputs"].items() if "default" in v}
    given.update(inputs)
    missing = [k for k, v in action["inputs"].items() if v.get("required") and not given.get(k)]
    assert not missing, f"required inputs missing: {missing}"
    steps_ctx: dict[str, dict[str, Any]] = {}
    ctx: dict[str, Any] = {
        "inputs": given,
        "github": dict(github),
        "steps": steps_ctx,
        "runner": {"temp": str(runner_temp)},
    }
    results: list[StepRun] = []

    def status(fn: str) -> bool:
        failed = any(r.outcome == "failure" for r in results)
        return {"always": True, "success": not failed, "failure": failed, "cancelled": False}[fn]

    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("id") or step.get("uses") or f"step {index}"
        cond = step.get("if", "success()")
        cond = cond[3:-2] if cond.startswith("${{") else cond
        if not _truthy(Expr(cond, ctx, status).value()):
            results.append(StepRun(name, False, "skipped"))
            continue
        outputs: dict[str, str] = {}
        with_ = {k: substitute(_text(v), ctx, status) for k, v in (step.get("with") or {}).items()}
        if "uses" in step:
            action_name = step["uses"].split("@")[0]
            ok, outputs = uses[action_name](with_)
            run = StepRun(name, True, "success" if ok else "failure", with_)
        else:
            out_file = runner_temp / f"output-{index}"
            out_file.write_text("")
            step_env = {
                **env,
                **{k: substitute(str(v), ctx, status) for k, v in (step.get("env") or {}).items()},
                "RUNNER_TEMP": str(runner_temp),
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_OUTPUT": str(out_file),
                "GITHUB_STEP_SUMMARY": str(summary_file),
            }
            script = runner_temp / f"step-{index}.sh"
            script.write_text(step["run"])
            assert step.get("shell") == "bash"
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
            run = StepRun(name, True, "success" if proc.returncode == 0 else "failure", {}, proc.stdout, proc.stderr)
        if run.outcome == "failure" and step.get("continue-on-error"):
            steps_ctx.setdefault(step.get("id", f"_{index}"), {})["outcome"] = "failure"
            run.outcome = "success"  # the conclusion GitHub gives a continue-on-error step
        if "id" in step:
            steps_ctx[step["id"]] = {"outputs": outputs, "outcome": run.outcome}
        results.append(run)
    outs = {k: substitute(str(v["value"]), ctx, status) for k, v in action.get("outputs", {}).items()}
    return JobResult(results, outs, summary_file.read_text() if summary_file.exists() else "")


# ---------------------------------------------------------------- GitLab


class _GitLabLoader(yaml.SafeLoader):
    pass


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return ("!reference", loader.construct_sequence(node))  # type: ignore[arg-type]


_GitLabLoader.add_constructor("!reference", _reference)


def load_gitlab(path: Path, extra: str = "") -> dict[str, Any]:
    """The template plus the user's jobs (``extra``), with ``extends`` merged (hashes deeply,
    everything else replaced, as GitLab does) and ``!reference`` tags resolved."""
    doc = yaml.load(path.read_text() + "\n" + extra, Loader=_GitLabLoader)

    def merged(name: str) -> dict[str, Any]:
        job = doc[name]
        parents = job.get("extends", [])
        parents = [parents] if isinstance(parents, str) else parents
        out: dict[str, Any] = {}
        for parent in parents:
            out = _deep_merge(out, merged(parent))
        return _deep_merge(out, {k: v for k, v in job.items() if k != "extends"})

    def resolve(node: Any) -> Any:
        if isinstance(node, tuple) and node and node[0] == "!reference":
            target: Any = {k: merged(k) for k in doc}
            for key in node[1]:
                target = target[key]
            return resolve(target)
        if isinstance(node, list):
            flat: list[Any] = []
            for item in node:
                value = resolve(item)
                if isinstance(item, tuple) and isinstance(value, list):
                    flat.extend(value)  # a referenced list is spliced in, as GitLab does
                else:
                    flat.append(value)
            return flat
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        return node

    reserved = {"variables", "default", "stages", "include", "workflow"}
    jobs = {name: resolve(merged(name)) for name in doc if name not in reserved and isinstance(doc[name], dict)}
    for job in jobs.values():  # global variables, overridden by the job's own
        job["variables"] = {**(doc.get("variables") or {}), **(job.get("variables") or {})}
    return jobs


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run_gitlab_job(
    job: Mapping[str, Any], *, project_dir: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """The job's script in one bash process, its variables exported, from the project directory."""
    variables = {k: str(v) for k, v in (job.get("variables") or {}).items()}
    script = "set -eo pipefail\n" + "\n".join(str(line) for line in job["script"]) + "\n"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=project_dir,
        env={**env, **variables, "CI_PROJECT_DIR": str(project_dir)},
        capture_output=True,
        text=True,
        timeout=600,
    )
