"""Line diffs of article revisions for the authoring page, rendered on the server.

A unified view: unchanged lines, removed lines and added lines in order, and within a changed
line the words that changed marked with <del> and <ins>. Every piece of text is escaped here."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Unchanged lines shown around each change; the rest is folded away.
CONTEXT_LINES = 3
# Words and the space between them; a CJK character is a word of its own (Chinese has no spaces).
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "equal", "delete", "insert" or "skip" (folded unchanged lines)
    old_number: int | None
    new_number: int | None
    html: SafeString


def _mark_words(old: str, new: str) -> tuple[SafeString, SafeString]:
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    old_html: list[str] = []
    new_html: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = escape("".join(old_tokens[i1:i2])), escape("".join(new_tokens[j1:j2]))
        if tag == "equal":
            old_html.append(removed)
            new_html.append(added)
            continue
        if removed:
            old_html.append(f"<del>{removed}</del>")
        if added:
            new_html.append(f"<ins>{added}</ins>")
    return mark_safe("".join(old_html)), mark_safe("".join(new_html))  # noqa: S308 - escaped above


def line_diff(old_text: str, new_text: str, *, context: int = CONTEXT_LINES) -> list[DiffLine]:
    """The changes from `old_text` to `new_text`, line by line; [] when they are the same."""
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    lines: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("skip", None, None, mark_safe("…")))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(
                    DiffLine("equal", i + 1, j + 1, escape(old_lines[i]))
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
                continue
            removed, added = old_lines[i1:i2], new_lines[j1:j2]
            # In a replaced block the lines pair up in order and get word marks; lines beyond the
            # shorter side are wholly removed or added.
            paired = min(len(removed), len(added)) if tag == "replace" else 0
            marks = [_mark_words(removed[k], added[k]) for k in range(paired)]
            removed_html = [mark[0] for mark in marks] + [escape(line) for line in removed[paired:]]
            added_html = [mark[1] for mark in marks] + [escape(line) for line in added[paired:]]
            lines.extend(DiffLine("delete", i1 + k + 1, None, html) for k, html in enumerate(removed_html))
            lines.extend(DiffLine("insert", None, j1 + k + 1, html) for k, html in enumerate(added_html))
    return lines


def inline_diff(old: str, new: str) -> SafeString:
    """One line (a title) with removed words in <del> and added ones in <ins>."""
    if old == new:
        return escape(new)
    tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, *tokens, autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(escape("".join(tokens[1][j1:j2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{escape(''.join(tokens[0][i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{escape(''.join(tokens[1][j1:j2]))}</ins>")
    return mark_safe("".join(parts))  # noqa: S308 - escaped above
