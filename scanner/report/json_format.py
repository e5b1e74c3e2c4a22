"""JSON: the evidence record itself."""

from __future__ import annotations

import json
from typing import Any


def render(record: dict[str, Any], **_: Any) -> str:
    return json.dumps(record, indent=2, sort_keys=False) + "\n"
