"""Flags every registry command shares, mapped to ``RegistryOptions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def registry_options(func: F) -> F:
    func = click.option(
        "--max-artifact-size",
        metavar="SIZE",
        envvar="SCANNER_MAX_ARTIFACT_SIZE",
        help="Most bytes of blobs one artifact may bring from the registry (e.g. 500M, 20G; default 32G).",
    )(func)
    func = click.option(
        "--plain-http",
        is_flag=True,
        envvar="SCANNER_PLAIN_HTTP",
        help="Talk HTTP, not HTTPS, to the registry (a local registry without TLS).",
    )(func)
    return func


def to_options(plain_http: bool, max_artifact_size: str | None) -> Any:
    from scanner.registry.options import DEFAULT_MAX_ARTIFACT, RegistryOptions, parse_size

    size = parse_size(max_artifact_size) if max_artifact_size else DEFAULT_MAX_ARTIFACT
    return RegistryOptions(plain_http=plain_http, max_artifact_size=size)
