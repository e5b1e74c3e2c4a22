"""pre-commit entry point: ``python -m scanner.precommit (models|requirements) [--opt=value ...] FILE...``.

pre-commit passes many file names at once, while ``scanner scan`` and ``scanner gate`` take one
path: this runs the command once per file and exits with the worst code (2 > 1 > 0). Options
for the command go first as single ``--opt=value`` tokens (what a hook's ``args:`` holds).
"""

from __future__ import annotations

import sys


def _run(argv: list[str]) -> int:
    from scanner.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0


def command_for(mode: str) -> list[str]:
    from scanner.cli import COMMANDS

    if mode == "models":
        return ["scan"]
    if mode == "requirements":
        # the audit command (when this build has it) audits dependencies only; the gate runs every check
        return ["audit"] if "audit" in COMMANDS else ["gate", "--stage", "dev", "--no-ledger"]
    raise SystemExit(f"scanner.precommit: unknown mode {mode!r} (models or requirements)")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m scanner.precommit (models|requirements) [--opt=value ...] FILE...", file=sys.stderr)
        return 2
    base = command_for(args[0])
    options = [a for a in args[1:] if a.startswith("-")]
    files = [a for a in args[1:] if not a.startswith("-")]
    worst = 0
    for path in files:
        code = _run([*base, *options, path])
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main())
