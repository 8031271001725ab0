"""Agent pages of macros: the list, the form (with a live preview), deleting; and the reply box's
picker (JSON): the macros to offer on a ticket, one rendered for it, and applying one."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from tickets.macros import selectors
from tickets.macros.forms import (
    MacroForm,
    action_choices,
    actions_from_rows,
    rows_from_actions,
    rows_from_post,
    rows_with_blank,
)
from tickets.macros.placeholders import PLACEHOLDER_DESCRIPTIONS, unknown_placeholders
from tickets.macros.services import (
    describe_actions,
    macro_apply_for_composer,
    macro_delete,
    macro_render,
    macro_save,
)
from tickets.models import Macro, MacroTranslation, Ticket, User
from tickets.rules.vocabulary import validate_actions
from tickets.views.agent.common import sidebar_views, staff_required


def _staff(request: HttpRequest) -> User:
    """The signed-in staff member (every view here is behind staff_required)."""
    return cast(User, request.user)


def _workable_ticket(request: HttpRequest, number: int | str) -> Ticket:
    ticket = permissions.access_ticket_by_number(request.user, number)
    if not permissions.can_work_ticket(request.user, ticket):
        raise Http404
    return ticket


def _error_messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        return list(error.messages)
    return [str(error) or _("This change is not allowed.")]


# -- Management pages ------------------------------------------------------------------------------


@staff_required
@require_GET
def macro_list(request: HttpRequest) -> HttpResponse:
    macros = list(
        selectors.macros_visible_to(request.user).select_related("team", "owner", "created_by")
        .order_by("-is_active", "-usage_count", "title", "id")
    )
    query = request.GET.get("q", "").strip()[:100]
    if query:
        macros = [macro for macro in macros if query.lower() in macro.title.lower()]
    rows = [{
        "macro": macro,
        "sharing": selectors.sharing_of(macro),
        "can_change": selectors.can_change_macro(_staff(request), macro),
    } for macro in macros]
    return render(request, "agent/macros/list.html", {
        "rows": rows, "query": query, "sidebar": sidebar_views(request),
        "sharing_labels": selectors.SHARING_LABELS,
    })


def _form_page(request: HttpRequest, macro: Macro | None) -> HttpResponse:
    user = _staff(request)
    if request.method == "POST":
        form = MacroForm(request.POST, user=user, macro=macro)
        rows = rows_from_post(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = macro_save(
                    actor=user, macro=macro, title=data["title"], reply_text=data["reply_text"],
                    reply_is_internal=data["reply_is_internal"], actions=actions_from_rows(rows),
                    sharing=data["sharing"], team=data["team"], is_active=data["is_active"],
                    translations=form.translations(),
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, errors in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, error.messages)
            except PermissionDenied as error:
                form.add_error(None, _error_messages(error))
            else:
                messages.success(request, _("Macro “%(title)s” saved.") % {"title": saved.title})
                return redirect("macros:list")
    else:
        form = MacroForm(user=user, macro=macro)
        rows = rows_from_actions(macro.actions) if macro is not None else []
    return render(request, "agent/macros/form.html", {
        "form": form, "macro": macro, "rows": rows_with_blank(rows), "choices": action_choices(),
        "placeholders": list(PLACEHOLDER_DESCRIPTIONS.items()), "sidebar": sidebar_views(request),
        "preview_ticket": request.GET.get("ticket", ""),
    }, status=400 if request.method == "POST" else 200)


@staff_required
@require_http_methods(["GET", "POST"])
def macro_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@staff_required
@require_http_methods(["GET", "POST"])
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    return _form_page(request, selectors.access_macro(request.user, macro_id, for_change=True))


@staff_required
@require_POST
def macro_remove(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = selectors.access_macro(request.user, macro_id, for_change=True)
    title = macro.title
    macro_delete(macro=macro, actor=_staff(request))
    messages.success(request, _("Macro “%(title)s” deleted.") % {"title": title})
    return redirect("macros:list")


@staff_required
@require_POST
def macro_preview(request: HttpRequest) -> HttpResponse:
    """The form's live preview: the posted (unsaved) reply rendered against ticket #N, in the
    requester's language when the form has a translation for it."""
    context: dict[str, Any] = {"number": request.POST.get("preview_ticket", "").strip().lstrip("#")}
    if not context["number"]:
        return render(request, "agent/macros/_preview.html", context)
    try:
        ticket = _workable_ticket(request, context["number"])
    except Http404:
        context["error"] = _("No ticket #%(number)s that you can work on.") % {"number": context["number"]}
        return render(request, "agent/macros/_preview.html", context)
    macro = Macro(title=request.POST.get("title", ""), reply_text=request.POST.get("reply_text", ""),
                  reply_is_internal=bool(request.POST.get("reply_is_internal")))
    translations = [
        MacroTranslation(language=code, title=request.POST.get(f"translation_title_{code}", ""),
                         reply_text=request.POST[f"translation_reply_{code}"])
        for code in (key.removeprefix("translation_reply_") for key in request.POST
                     if key.startswith("translation_reply_"))
        if request.POST[f"translation_reply_{code}"].strip()
    ]
    rendered = macro_render(macro=macro, ticket=ticket, agent=_staff(request), translations=translations)
    try:
        actions = describe_actions(validate_actions(actions_from_rows(rows_from_post(request.POST)), for_macro=True))
    except ValidationError as error:
        actions, context["actions_error"] = [], " ".join(error.messages)
    context.update({
        "ticket": ticket, "rendered": rendered,
        "unknown": unknown_placeholders(macro.reply_text + "".join(t.reply_text for t in translations)),
        "actions": actions,
    })
    return render(request, "agent/macros/_preview.html", context)


# -- The reply box's picker (JSON) -----------------------------------------------------------------


@staff_required
@require_GET
def picker(request: HttpRequest, number: int) -> JsonResponse:
    """The macros the agent may apply on this ticket, most used first."""
    ticket = _workable_ticket(request, number)
    macros = list(selectors.macros_for_picker(request.user))
    return JsonResponse({"results": [{
        "id": macro.pk,
        "title": macro.title,
        "is_internal": macro.reply_is_internal,
        "sharing": selectors.sharing_of(macro),
        "team": macro.team.name if macro.team else "",
        "usage_count": macro.usage_count,
        "render_url": reverse("macros:render", args=[macro.pk, ticket.number]),
        "apply_url": reverse("macros:apply", args=[macro.pk, ticket.number]),
    } for macro in macros]})


def _rendered_json(rendered: Any) -> dict[str, Any]:
    return {"id": rendered.macro_id, "title": rendered.title, "body": rendered.body_text,
            "is_internal": rendered.is_internal, "language": rendered.language, "actions": rendered.actions}


@staff_required
@require_GET
def render_for_ticket(request: HttpRequest, macro_id: int, number: int) -> JsonResponse:
    """The macro rendered for this ticket, changing nothing (the picker's preview)."""
    ticket = _workable_ticket(request, number)
    macro = selectors.access_macro(request.user, macro_id)
    return JsonResponse(_rendered_json(macro_render(macro=macro, ticket=ticket, agent=_staff(request))))


@staff_required
@require_POST
def apply_to_ticket(request: HttpRequest, macro_id: int, number: int) -> JsonResponse:
    """Apply the macro's field actions now; return its reply (rendered after the changes) for the
    composer and what changed. The agent sends the reply themselves."""
    ticket = _workable_ticket(request, number)
    macro = selectors.access_macro(request.user, macro_id)
    try:
        ticket, rendered, changes = macro_apply_for_composer(macro=macro, ticket=ticket, actor=_staff(request))
    except (ValidationError, PermissionDenied) as error:
        return JsonResponse({"errors": _error_messages(error)}, status=400)
    return JsonResponse({**_rendered_json(rendered), "changes": changes,
                         "ticket": {"number": ticket.number, "status": ticket.status,
                                    "status_label": ticket.get_status_display()}})
