"""The attestation options of ``gate`` and ``promote``: one decorator, one typed result.

    @click.command()
    @attestation_options
    def promote(..., **flags):
        opts = AttestationOptions.from_flags(flags)      # scanner.verify.attestation
        settings.update(opts.settings())

Keyless signers of attestations are trusted with the identity options ``verify`` and ``gate``
already have (``--cert-identity``/``--cert-identity-regexp``/``--cert-oidc-issuer``,
``--trusted-root``, ``--staging``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(dir_okay=False, path_type=Path)


def attestation_options(func: F) -> F:
    for decl, kwargs in reversed(
        [
            (
                "--attestation",
                {
                    "type": _FILE,
                    "multiple": True,
                    "metavar": "FILE",
                    "help": "Signed attestation about the artifact (DSSE envelope or Sigstore bundle; repeatable).",
                },
            ),
            (
                "--attestation-key",
                {
                    "type": _FILE,
                    "multiple": True,
                    "metavar": "PEM",
                    "help": "Trust attestations signed with this public key (repeatable).",
                },
            ),
            (
                "--model-name",
                {
                    "metavar": "NAME",
                    "help": "Model identity for the quality baseline (default: the artifact's name).",
                },
            ),
        ]
    ):
        func = click.option(decl, **kwargs)(func)  # type: ignore[arg-type]
    return func
