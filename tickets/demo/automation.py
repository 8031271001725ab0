"""Routing and automation demo data (issue 9): the demo teams' assignment strategies and escalation
path, triggers, automations and macros (with their Chinese translations), and the demo customer's
tickets across email, chat and phone for the customer page.

Found or created by name, so `make run` adds them once to demo data made earlier and leaves what an
admin edited alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from tickets.demo.base import DEMO_CUSTOMER_EMAIL
from tickets.models import (
    Channel,
    Customer,
    Macro,
    MacroTranslation,
    Role,
    RoutingStrategy,
    Rule,
    RuleKind,
    Team,
    TeamMembership,
    Ticket,
    User,
)
from tickets.rules.vocabulary import validate_actions, validate_conditions

ENGINEERING = ("engineering", "Engineering")


def _condition(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def ensure_routing(teams: dict[str, Team]) -> None:
    """Support takes turns (round-robin, the first replier keeps the customer), Billing and Tech go by
    skills, and Support → Tech → Engineering is the escalation path."""
    engineering, created = Team.objects.get_or_create(
        slug=ENGINEERING[0], defaults={"name": ENGINEERING[1], "is_customer_selectable": False,
                                       "routing_strategy": RoutingStrategy.LOAD_BALANCED},
    )
    for username, is_lead in (("liu.yang", True), ("james.wilson", False)):
        user = User.objects.filter(username=username).first()
        if user is not None:
            TeamMembership.objects.get_or_create(team=engineering, user=user, defaults={"is_lead": is_lead})
    if not created:
        return  # set up on an earlier run; what an admin changed since stays
    settings = {
        "support": {"routing_strategy": RoutingStrategy.ROUND_ROBIN, "first_contact_ownership": True,
                    "escalates_to": teams["tech"]},
        "billing": {"routing_strategy": RoutingStrategy.SKILL_BASED},
        "tech": {"routing_strategy": RoutingStrategy.SKILL_BASED, "escalates_to": engineering},
    }
    for slug, values in settings.items():
        team = teams[slug]
        for name, value in values.items():
            setattr(team, name, value)
        team.save(update_fields=list(values))


def _trigger_specs(teams: dict[str, Team], users: dict[str, User]) -> list[dict[str, Any]]:
    billing, tech = teams["billing"], teams["tech"]
    return [
        {
            "name": "Refunds go to Billing", "events": ["created"],
            "description": "Requests that mention a refund are tagged and routed to Billing (skill-based routing "
                           "then picks an agent with the refund skill).",
            "conditions": {"all": [], "any": [
                _condition("ticket.subject", "contains", "refund"), _condition("message.text", "contains", "refund"),
                _condition("ticket.subject", "contains", "退款"), _condition("ticket.subject", "contains", "退費"),
            ]},
            "actions": [{"type": "add_tags", "value": ["refund"]}, {"type": "set_team", "value": str(billing.pk)}],
        },
        {
            "name": "Outages are urgent and go to Tech", "events": ["created"],
            "description": "An outage report is urgent, tagged and sent to Tech.",
            "conditions": {"all": [], "any": [
                _condition("ticket.subject", "matches", r"(?i)\b(outage|down|not loading)\b"),
                _condition("ticket.subject", "contains", "宕机"), _condition("ticket.subject", "contains", "當機"),
            ]},
            "actions": [{"type": "set_priority", "value": "urgent"}, {"type": "add_tags", "value": ["outage", "bug"]},
                        {"type": "set_team", "value": str(tech.pk)}],
        },
        {
            "name": "Enterprise customers get high priority", "events": ["created"],
            "description": "Tickets from enterprise-tier customers start at high priority.",
            "conditions": {"all": [_condition("requester.tier", "is", "enterprise"),
                                   _condition("ticket.priority", "in", ["low", "normal"])], "any": []},
            "actions": [{"type": "set_priority", "value": "high"}, {"type": "add_tags", "value": ["enterprise"]}],
        },
        {
            "name": "Tell the Support lead about urgent tickets", "events": ["created", "updated"],
            "description": "Whenever a Support ticket becomes urgent, its team lead gets an email.",
            "conditions": {"all": [_condition("ticket.priority", "changed_to", "urgent"),
                                   _condition("ticket.team", "is", str(teams["support"].pk))], "any": []},
            "actions": [{"type": "email_agent", "recipient": str(users["sarah.johnson"].pk),
                         "subject": "Urgent: #{{ ticket.number }} {{ ticket.subject }}",
                         "body": "{{ requester.name }} needs help now: {{ ticket.subject }}."}],
        },
        {
            "name": "Acknowledge web requests outside business hours", "events": ["created"],
            "description": "A web-form request sent while the team is away gets an acknowledgement.",
            "conditions": {"all": [_condition("ticket.channel", "is", "web"), _condition("business_hours", "is_false")],
                           "any": []},
            "actions": [{"type": "email_requester",
                         "subject": "We received your request #{{ ticket.number }}",
                         "body": "Hello {{ requester.first_name }},\n\nthanks for writing to us. Our team is away "
                                 "right now and will answer you first thing in the next business day.\n\n"
                                 "You can follow your request here: {{ ticket.url }}"}],
        },
        {
            "name": "Customer wrote again on a pending ticket", "events": ["customer_replied"],
            "description": "Adds a note so the agent sees the customer answered the question.",
            "conditions": {"all": [_condition("ticket.status", "changed_from", "pending")], "any": []},
            "actions": [{"type": "add_tags", "value": ["customer-answered"]}],
        },
    ]


def _automation_specs(teams: dict[str, Team]) -> list[dict[str, Any]]:
    return [
        {
            "name": "Remind the customer after 3 days pending",
            "description": "A pending ticket untouched for 3 days gets a reminder to the customer (once per wait).",
            "conditions": {"all": [_condition("ticket.status", "is", "pending"),
                                   _condition("hours_since.status_changed", "gt", 72)], "any": []},
            "actions": [{"type": "email_requester", "subject": "Reminder: your request #{{ ticket.number }}",
                         "body": "Hello {{ requester.first_name }},\n\nwe are still waiting for your answer on "
                                 "“{{ ticket.subject }}”. Just reply to this mail and we will pick it up."},
                        {"type": "add_tags", "value": ["reminded"]}],
        },
        {
            "name": "Close tickets solved for 4 days",
            "description": "Solved tickets with no reply for 4 days are closed.",
            "conditions": {"all": [_condition("ticket.status", "is", "solved"), _condition("hours_since.solved", "gt", 96)],
                           "any": []},
            "actions": [{"type": "set_status", "value": "closed"}],
        },
        {
            "name": "Escalate urgent tickets unanswered for 2 hours",
            "description": "An urgent Support ticket nobody answered in 2 hours moves to the next level (Tech).",
            "conditions": {"all": [_condition("ticket.priority", "is", "urgent"), _condition("ticket.status", "is", "new"),
                                   _condition("ticket.team", "is", str(teams["support"].pk)),
                                   _condition("hours_since.created", "gt", 2)], "any": []},
            "actions": [{"type": "escalate"}],
        },
    ]


# (title, owner username or None, team slug or None, reply, internal, actions, {language: (title, reply)})
MACROS: tuple[tuple[str, str | None, str | None, str, bool, list[dict[str, Any]], dict[str, tuple[str, str]]], ...] = (
    (
        "Ask for the order number", None, "billing",
        "Hello {{ requester.first_name }},\n\nthanks for getting in touch. Could you send us the order number "
        "(it starts with a 6-digit number and is in your confirmation mail)? Then we can look into it right away."
        "\n\nBest regards,\n{{ agent.name }}",
        False, [{"type": "set_status", "value": "pending"}, {"type": "add_tags", "value": ["needs-order-number"]}],
        {"zh-hans": ("索取订单号", "{{ requester.name }}，您好：\n\n感谢您的来信。请提供您的订单号（确认邮件中的 6 位数字），"
                                   "我们会马上为您处理。\n\n{{ agent.name }}"),
         "zh-hant": ("索取訂單號碼", "{{ requester.name }}，您好：\n\n感謝您的來信。請提供您的訂單號碼（確認郵件中的 6 位數字），"
                                     "我們會立即為您處理。\n\n{{ agent.name }}")},
    ),
    (
        "Refund approved", None, "billing",
        "Hello {{ requester.first_name }},\n\ngood news: your refund for ticket #{{ ticket.number }} is approved. "
        "The money will be back on your account within 5 business days.\n\nBest regards,\n{{ agent.name }}",
        False, [{"type": "set_status", "value": "solved"}, {"type": "add_tags", "value": ["refund-approved"]}],
        {"zh-hans": ("退款已批准", "{{ requester.name }}，您好：\n\n您的退款（工单 #{{ ticket.number }}）已批准，"
                                   "款项将在 5 个工作日内退回您的账户。\n\n{{ agent.name }}"),
         "zh-hant": ("退款已核准", "{{ requester.name }}，您好：\n\n您的退款（工單 #{{ ticket.number }}）已核准，"
                                   "款項將於 5 個工作天內退回您的帳戶。\n\n{{ agent.name }}")},
    ),
    (
        "Password reset steps", None, None,
        "Hello {{ requester.first_name }},\n\nto reset your password: open the sign-in page, choose “Forgot "
        "password?”, and follow the link we email you (it works for one hour). If no mail arrives within a few "
        "minutes, check your spam folder.\n\nBest regards,\n{{ agent.name }}",
        False, [{"type": "set_status", "value": "pending"}, {"type": "add_tags", "value": ["login"]}],
        {"zh-hans": ("重置密码步骤", "{{ requester.name }}，您好：\n\n重置密码的方法：打开登录页面，点击“忘记密码？”，"
                                     "然后点击我们发给您的邮件中的链接（一小时内有效）。如果几分钟内没有收到邮件，请检查垃圾邮件文件夹。"
                                     "\n\n{{ agent.name }}"),
         "zh-hant": ("重設密碼步驟", "{{ requester.name }}，您好：\n\n重設密碼的方法：開啟登入頁面，點選「忘記密碼？」，"
                                     "然後點選我們寄給您的郵件中的連結（一小時內有效）。若幾分鐘內沒有收到郵件，請檢查垃圾郵件資料夾。"
                                     "\n\n{{ agent.name }}")},
    ),
    (
        "Escalated to engineering (note)", None, "tech",
        "Escalated to engineering: reproduced on our side, details below.\n\nSteps:\n1. \n2. \n\nCustomer: "
        "{{ requester.name }} ({{ organization.name }})",
        True, [{"type": "add_tags", "value": ["bug", "escalated"]}, {"type": "set_priority", "value": "high"}],
        {},
    ),
    (
        "Thanks, closing", "agent", None,
        "Thanks {{ requester.first_name }}! I'm glad it works now. I'll mark this request as solved; just reply "
        "if anything else comes up.\n\n{{ agent.name }}",
        False, [{"type": "set_status", "value": "solved"}],
        {"zh-hans": ("感谢，结案", "{{ requester.name }}，很高兴问题已解决！我会将此请求标记为已解决，如有其他问题请直接回复。"
                                   "\n\n{{ agent.name }}")},
    ),
)


def ensure_rules(teams: dict[str, Team], users: dict[str, User]) -> int:
    created = 0
    existing = set(Rule.objects.values_list("name", flat=True))
    admin = users.get("admin")
    specs = [(RuleKind.TRIGGER, spec) for spec in _trigger_specs(teams, users)]
    specs += [(RuleKind.AUTOMATION, spec) for spec in _automation_specs(teams)]
    for position, (kind, spec) in enumerate(specs, start=1):
        if spec["name"] in existing:
            continue
        Rule.objects.create(
            kind=kind, name=spec["name"], description=spec["description"], events=spec.get("events", []),
            conditions=validate_conditions(spec["conditions"]), actions=validate_actions(spec["actions"]),
            position=position * 10, created_by=admin,
        )
        created += 1
    return created


def ensure_macros(teams: dict[str, Team], users: dict[str, User]) -> int:
    created = 0
    for title, owner, team_slug, reply, internal, actions, translations in MACROS:
        owner_user = users.get(owner) if owner else None
        team = teams.get(team_slug) if team_slug else None
        if Macro.objects.filter(title=title, owner=owner_user, team=team).exists():
            continue
        macro = Macro.objects.create(
            title=title, owner=owner_user, team=team, reply_text=reply, reply_is_internal=internal,
            actions=validate_actions(actions, for_macro=True), created_by=owner_user or users.get("admin"),
        )
        for language, (translated_title, translated_reply) in translations.items():
            MacroTranslation.objects.create(macro=macro, language=language, title=translated_title,
                                            reply_text=translated_reply)
        created += 1
    return created


def ensure_demo_customer_channels() -> list[str]:
    """The demo customer (Jordan Lee) has tickets by email, chat and phone, so their customer page shows
    one person across the channels. Returns the channels that were added."""
    from tickets.services import ticket_create

    customer = Customer.objects.filter(email__iexact=DEMO_CUSTOMER_EMAIL).first()
    agent = User.objects.filter(username="agent", role=Role.AGENT).first()
    support = Team.objects.filter(slug="support").first()
    if customer is None or agent is None:
        return []
    have = set(Ticket.objects.filter(requester=customer).values_list("channel", flat=True))
    added = []
    if Channel.EMAIL not in have:
        ticket_create(requester=customer, subject="Invoice for March is missing", channel=Channel.EMAIL, team=support,
                      body_text="Hi, I can't find the invoice for March in my account. Could you send it again?\n\nJordan",
                      via="email")
        added.append(Channel.EMAIL)
    if Channel.CHAT not in have:
        ticket_create(requester=customer, subject="Chat: how do I add a second user?", channel=Channel.CHAT,
                      team=support, body_text="Hello! How do I add a colleague to our account?", via="chat")
        added.append(Channel.CHAT)
    if Channel.PHONE not in have and customer.phone_numbers:
        from channels_intake.phone.models import CallDirection, CallDisposition
        from channels_intake.phone.services import call_log

        call_log(actor=agent, ticket=None, direction=CallDirection.INBOUND, number=customer.phone_numbers[0],
                 duration_seconds=185, notes="Called about a double charge on the last invoice; checking with Billing.",
                 disposition=CallDisposition.FOLLOW_UP)
        added.append(Channel.PHONE)
    return added


def ensure_health_trend(weeks: int = 12) -> int:
    """Health snapshots once a week over the demo history's last `weeks` weeks and today, so customer
    pages show a trend on the first run (the nightly task adds a day at a time afterwards). A past
    week's score reads the tickets' open state as it is now: close enough for a demo."""
    from datetime import timedelta

    from django.utils import timezone

    from tickets.customers.health import health_snapshots_take
    from tickets.models import HealthSnapshot

    if HealthSnapshot.objects.exists():
        return 0
    now = timezone.now()
    for week in range(weeks, -1, -1):
        health_snapshots_take(now=now - timedelta(weeks=week))
    return weeks + 1


def seed_automation(*, progress: Callable[[str], None] = lambda _m: None, customer_tickets: bool = True) -> None:
    """customer_tickets: also give the demo customer their email, chat and phone tickets (the full
    demo; `seed_demo --tickets N` for tests and benchmarks asks for N tickets and gets exactly those)."""
    from tickets.demo.base import TEAMS

    teams = {team.slug: team for team in Team.objects.filter(slug__in=[slug for slug, _, _ in TEAMS])}
    if set(teams) != {slug for slug, _, _ in TEAMS}:
        return
    users = {user.username: user for user in User.objects.filter(role__in=[r for r in Role.values if r != Role.CUSTOMER])}
    with transaction.atomic():
        ensure_routing(teams)
        rules = ensure_rules(teams, users)
        macros = ensure_macros(teams, users)
    from tickets.rules.engine import rules_changed

    rules_changed()
    channels = ensure_demo_customer_channels() if customer_tickets else []
    snapshots = ensure_health_trend()
    progress(
        "Routing: Support round-robin (first replier owns), Billing and Tech skill-based; escalation "
        f"Support → Tech → Engineering. {rules} rules and {macros} macros added"
        + (f"; the demo customer's {', '.join(channels)} tickets added" if channels else "")
        + (f"; health scores taken for {snapshots} days." if snapshots else ".")
    )
