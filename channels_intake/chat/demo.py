"""The demo chat widget (`make run`, seed_demo): team Support, key "demo-widget", embeddable from
the local addresses `make run` serves on, so the demo shop page (/demo/widget/) can use it."""

from __future__ import annotations

import os
from collections.abc import Callable

from channels_intake.chat.models import ChatWidget, default_prechat_fields
from tickets.models import Team

DEMO_WIDGET_KEY = "demo-widget"
DEMO_TEAM_SLUG = "support"
GREETING = {
    "en": "Hi! Ask us anything — we usually answer within a few minutes.",
    "zh-hans": "您好！有任何问题都可以问我们，我们通常几分钟内回复。",
    "zh-hant": "您好！有任何問題都可以問我們，我們通常幾分鐘內回覆。",
}


def demo_origins() -> list[str]:
    """http://localhost and http://127.0.0.1 on 8000 and on HELPDESK_PORT (what `make run` listens on)."""
    ports = dict.fromkeys(["8000", os.environ.get("HELPDESK_PORT", "8000")])
    return [f"http://{host}:{port}" for port in ports for host in ("localhost", "127.0.0.1")]


def seed_chat_widget(*, progress: Callable[[str], None] = lambda _m: None) -> ChatWidget | None:
    """Create (or bring up to date) the demo widget; None when there is no Support team yet."""
    team = Team.objects.filter(slug=DEMO_TEAM_SLUG).first()
    if team is None:
        progress("Chat: no Support team, no demo widget.")
        return None
    widget, created = ChatWidget.objects.get_or_create(
        key=DEMO_WIDGET_KEY,
        defaults={"name": "Demo shop", "team": team, "greeting": GREETING, "prechat_fields": default_prechat_fields(),
                  "deflection_enabled": True, "allowed_origins": demo_origins()},
    )
    missing = [origin for origin in demo_origins() if origin not in widget.allowed_origins]
    if missing:
        widget.allowed_origins = [*widget.allowed_origins, *missing]
        widget.save(update_fields=["allowed_origins"])
    progress(f"Chat: demo widget {'created' if created else 'present'} (key {DEMO_WIDGET_KEY}, team {team.name}).")
    return widget
