"""Agent pages of the customer 360: the customer list, a customer's page, an organization's page,
the duplicate customers and their merge. Thin: selectors read, services change."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tickets.customers import selectors, services
from tickets.customers.health import health_score
from tickets.models import CustomFieldDefinition, User
from tickets.views.agent.common import staff_required, workspace_context

SERVICE_ERRORS = (ValidationError, PermissionDenied)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _errors(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [f"{key}: {' '.join(texts)}" if key != "__all__" else " ".join(texts)
                    for key, texts in error.message_dict.items()]
        return list(error.messages)
    return [str(error) or _("You cannot do that.")]


def _chart_texts() -> dict[str, str]:
    return {"score": _("Health score"), "empty": _("No history yet.")}


@staff_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    page = selectors.customer_search(viewer=request.user, query=query, page=request.GET.get("page", 1))
    return render(request, "agent/customers/list.html",
                  {**workspace_context(request), "page": page, "query": query})


@staff_required
@require_GET
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    overview = selectors.customer_overview(viewer=request.user, customer_id=customer_id)
    return render(request, "agent/customers/detail.html", {
        **workspace_context(request), "overview": overview, "customer": overview.customer,
        "chart_texts": _chart_texts(),
    })


def _custom_field_values(request: HttpRequest) -> dict[str, Any]:
    """The submitted customer custom fields: an unticked checkbox and an emptied field remove the value."""
    definitions = CustomFieldDefinition.objects.filter(applies_to=CustomFieldDefinition.AppliesTo.CUSTOMER)
    values: dict[str, Any] = {}
    for definition in definitions:
        name = f"cf_{definition.key}"
        if definition.field_type == CustomFieldDefinition.FieldType.CHECKBOX:
            values[definition.key] = True if request.POST.get(name) else None
        elif name in request.POST:
            values[definition.key] = request.POST.get(name, "").strip() or None
    return values


@staff_required
@require_POST
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.access_customer(request.user, customer_id)
    try:
        services.customer_update(
            customer=customer, actor=_user(request), notes=request.POST.get("notes"),
            custom_fields=_custom_field_values(request),
        )
    except SERVICE_ERRORS as error:
        for text in _errors(error):
            messages.error(request, text)
    else:
        messages.success(request, _("Customer saved."))
    return redirect(reverse("customers:customer_detail", args=[customer.pk]))


@staff_required
@require_GET
def customer_health_badge(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The requester's score on the ticket page, loaded after it (one query)."""
    customer = selectors.access_customer(request.user, customer_id)
    return render(request, "agent/customers/_health_badge.html",
                  {"customer": customer, "health": health_score(customer=customer)})


@staff_required
@require_GET
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    overview = selectors.organization_overview(viewer=request.user, organization_id=organization_id)
    customers = [{"customer": customer, "health": overview.customer_scores.get(customer.pk)}
                 for customer in overview.customers]
    return render(request, "agent/customers/organization.html", {
        **workspace_context(request), "overview": overview, "organization": overview.organization,
        "customers": customers, "chart_texts": _chart_texts(),
    })


@staff_required
@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    pairs = selectors.duplicate_candidates(viewer=request.user)
    return render(request, "agent/customers/duplicates.html", {
        **workspace_context(request), "pairs": pairs, "reason_labels": REASON_LABELS,
    })


# Lazy: read in the viewer's language when the page renders, not at import.
REASON_LABELS = {
    selectors.DuplicateReason.PHONE: gettext_lazy("Same phone number"),
    selectors.DuplicateReason.EMAIL: gettext_lazy("Same email address (ignoring case, dots or +tags)"),
    selectors.DuplicateReason.OTHER_EMAIL: gettext_lazy("Another address of one is the other's email"),
    selectors.DuplicateReason.NAME_ORGANIZATION: gettext_lazy("Same name in the same organization"),
}


@staff_required
@require_http_methods(["GET", "POST"])
def duplicate_merge(request: HttpRequest) -> HttpResponse:
    """GET: what merging `source` into `target` will do, to confirm; POST: merge."""
    data = request.POST if request.method == "POST" else request.GET
    source = selectors.access_customer(request.user, data.get("source", ""))
    target = selectors.access_customer(request.user, data.get("target", ""))
    if request.method == "POST":
        try:
            services.customer_merge_into(source=source, target=target, actor=_user(request))
        except SERVICE_ERRORS as error:
            for text in _errors(error):
                messages.error(request, text)
            return redirect(reverse("customers:duplicates"))
        messages.success(request, _("%(source)s was merged into %(target)s.") % {
            "source": source.name, "target": target.name})
        return redirect(reverse("customers:customer_detail", args=[target.pk]))
    for customer in (source, target):
        customer.ticket_count = customer.tickets.count()  # type: ignore[attr-defined]
    return render(request, "agent/customers/merge_confirm.html", {
        **workspace_context(request), "source": source, "target": target,
        "source_ticket_count": source.ticket_count,  # type: ignore[attr-defined]
    })
