"""``scanner push``: store a local artifact in an OCI registry."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.options import common_options
from scanner.cli.registry_options import from_context, registry_options


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("target", metavar="oci://REGISTRY/REPO:TAG")
@registry_options
@common_options
def push(path: Path, target: str) -> int:
    """Push PATH to TARGET: a model directory or file as a CNCF ModelPack artifact (one layer per
    file, name/version/licences from the ML-BOM), anything else as an OCI artifact with an
    artifactType. What is pushed is what `scanner gate PATH` judges: a requirements file goes with
    the files it includes (-r), at the same relative paths. Prints the pinned reference REF@sha256:…

    \b
    Credentials: SCANNER_REGISTRY_USERNAME/SCANNER_REGISTRY_PASSWORD, else the Docker config.
    """
    from scanner import ui
    from scanner.registry.client import Client
    from scanner.registry.push import push as do_push
    from scanner.registry.reference import parse_reference

    ref = parse_reference(target, require="tag")
    options = from_context()
    result = do_push(path, ref, Client(ref.registry, options))
    ui.info(f"pushed {result.files} file(s) as {result.artifact_type} ({result.bytes_uploaded} bytes uploaded)")
    click.echo(result.pinned)
    return 0
