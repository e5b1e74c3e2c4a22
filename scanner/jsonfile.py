"""Reading a JSON file a user named (policy data, a saved policy input, an evidence record):
every failure is a ScanError naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.errors import ScanError


def read_json(path: Path, what: str) -> Any:
    """The parsed document; ``what`` names the file in messages (``"input file"``)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScanError(f"{what} not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanError(f"cannot read {what}: {exc}", path) from None
    except json.JSONDecodeError as exc:
        raise ScanError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path) from None
    except RecursionError:
        raise ScanError(f"{what} nested too deeply", path) from None


def load_policy_data(path: Path, required: bool) -> dict[str, Any]:
    """Policy data: a JSON object; a missing default file is empty data, a missing named one an error."""
    if not required and not path.is_file():
        return {}
    loaded = read_json(path, "policy data file")
    if not isinstance(loaded, dict):
        raise ScanError("policy data must be a JSON object", path)
    return loaded
