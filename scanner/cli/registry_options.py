"""``--plain-http`` and ``--max-artifact-size``: how every command reaches a registry. The values
become one ``RegistryOptions`` kept on the click context (``from_context``), so a command that
reads ``oci://`` sources adds the decorator and one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
_KEY = "scanner.registry_options"


def registry_options(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, plain_http: bool = False, max_artifact_size: str | None = None, **kwargs: Any) -> Any:
        click.get_current_context().meta[_KEY] = to_options(plain_http, max_artifact_size)
        return func(*args, **kwargs)

    decorated: Any = click.option(
        "--max-artifact-size",
        metavar="SIZE",
        envvar="SCANNER_MAX_ARTIFACT_SIZE",
        help="oci:// sources: most bytes of blobs one artifact may bring (e.g. 500M, 20G; default 32G).",
    )(wrapper)
    decorated = click.option(
        "--plain-http",
        is_flag=True,
        envvar="SCANNER_PLAIN_HTTP",
        help="oci:// sources: talk HTTP, not HTTPS, to the registry (a local registry without TLS).",
    )(decorated)
    result: F = decorated
    return result


def to_options(plain_http: bool, max_artifact_size: str | None) -> Any:
    from scanner.registry.options import DEFAULT_MAX_ARTIFACT, RegistryOptions, parse_size

    size = parse_size(max_artifact_size) if max_artifact_size else DEFAULT_MAX_ARTIFACT
    return RegistryOptions(plain_http=plain_http, max_bytes=size)


def from_context() -> Any:
    """The ``RegistryOptions`` of the running command (defaults when it has no registry flags)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(_KEY) if ctx is not None else None
    return found if found is not None else to_options(False, None)
