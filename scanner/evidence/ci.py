"""Where a record was made: the CI run (GitHub Actions, GitLab CI) read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ci_context(env: Mapping[str, str]) -> dict[str, Any]:
    """``system`` is ``github-actions``, ``gitlab-ci``, ``ci`` (another CI that sets ``CI``) or
    ``local``; the other keys are null when the system does not tell."""
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = env.get("GITHUB_REPOSITORY")
        run_id = env.get("GITHUB_RUN_ID")
        attempt = env.get("GITHUB_RUN_ATTEMPT")
        url = f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None
        if url and attempt and attempt != "1":
            url += f"/attempts/{attempt}"
        return _context(
            "github-actions",
            run_url=url,
            repository=f"{server}/{repo}" if repo else None,
            commit=env.get("GITHUB_SHA"),
            ref=env.get("GITHUB_REF"),
            actor=env.get("GITHUB_ACTOR"),
            workflow=env.get("GITHUB_WORKFLOW"),
            job=env.get("GITHUB_JOB"),
            run_id=run_id,
            event=env.get("GITHUB_EVENT_NAME"),
        )
    if env.get("GITLAB_CI") == "true":
        return _context(
            "gitlab-ci",
            run_url=env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
            repository=env.get("CI_PROJECT_URL"),
            commit=env.get("CI_COMMIT_SHA"),
            ref=env.get("CI_COMMIT_REF_NAME"),
            actor=env.get("GITLAB_USER_LOGIN"),
            workflow=env.get("CI_PIPELINE_URL"),
            job=env.get("CI_JOB_NAME"),
            run_id=env.get("CI_PIPELINE_ID"),
            event=env.get("CI_PIPELINE_SOURCE"),
        )
    actor = env.get("USER") or env.get("USERNAME") or env.get("LOGNAME")
    return _context("ci" if env.get("CI", "").lower() in ("true", "1") else "local", actor=actor)


def _context(system: str, **values: str | None) -> dict[str, Any]:
    keys = ("run_url", "repository", "commit", "ref", "actor", "workflow", "job", "run_id", "event")
    return {"system": system, **{k: values.get(k) or None for k in keys}}
