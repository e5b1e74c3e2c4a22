"""Neutralising attacker-controlled text for the medium it is shown in.

File names, model-card fields, pickle global names and requirement lines come from the artifact.
Written raw, an escape sequence can rewrite a terminal line (a DENIED gate made to *display*
"decision: ALLOWED"), and Markdown can turn them into live links, images or ``@mentions``.
Each renderer passes every such string through the function for its medium, at the point where
it writes it; the evidence record keeps the original text.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, and the Unicode bidirectional overrides and isolates (which reorder
# what is displayed: "Trojan Source"), plus the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_KEEP_LINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(value: Any, *, keep_newlines: bool = False) -> str:
    """No control character reaches a terminal: each is shown as a visible ``\\xNN`` escape
    (newlines too, unless ``keep_newlines`` for the tool's own multi-line messages)."""
    pattern = _CONTROL_KEEP_LINES if keep_newlines else _CONTROL
    return pattern.sub(_visible, str(value))


def plain(value: Any) -> str:
    """Plain text for SARIF/JUnit messages: controls shown as escapes, one line."""
    return terminal(value)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")
# After escaping, what GitHub Markdown would still turn live: URL schemes and www. (autolinks),
# and @ (mentions, team mentions and e-mail autolinks). A zero-width space breaks each pattern
# without changing what a reader sees.
_MD_AUTOLINK = re.compile(r"(?i)(:)(//)|\b(www)(\\?\.)|(@)")
_ZWSP = "\u200b"


def _break(match: re.Match[str]) -> str:
    if match.group(1):
        return ":" + _ZWSP + "//"
    if match.group(3):
        return match.group(3) + _ZWSP + match.group(4)
    return "@" + _ZWSP


def markdown(value: Any) -> str:
    """Inline Markdown text that stays text: one line, Markdown and HTML syntax escaped, no
    autolinks, images or mentions."""
    text = " ".join(terminal(value).split())
    return _MD_AUTOLINK.sub(_break, _MD_SPECIAL.sub(r"\\\1", text))
