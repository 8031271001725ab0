"""Small presentation helpers for the workspace and portal templates."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def relative_time(value: datetime | None) -> str:
    """"just now", "5 minutes ago", "3 days ago": one unit, in the active language."""
    if not value:
        return ""
    now = timezone.now()
    if value > now:
        return _("just now")
    if now - value < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}


@register.filter
def initials(name: str | None) -> str:
    """One or two letters for an avatar; a CJK name gives its first character."""
    words = str(name or "").replace("@", " ").replace(".", " ").split()
    if not words:
        return "?"
    first = words[0]
    if not first.isascii():
        return first[0]
    return (first[0] + (words[1][0] if len(words) > 1 and words[1].isascii() else "")).upper()


@register.filter
def filesize(value: int | None) -> str:
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
