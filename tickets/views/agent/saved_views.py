"""Saving the queue's current filters as a view, and deleting views."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tickets.forms import SavedViewForm
from tickets.selectors import saved_views_for
from tickets.services.saved_views import saved_view_create, saved_view_delete, saved_view_filters_from_params
from tickets.views.agent.common import (
    safe_next,
    saved_views_changed,
    shareable_teams,
    staff_required,
    user_teams,
)


@staff_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    """Filters come from the queue URL the form was on (`next`), so what is saved is what was shown."""
    back = safe_next(request, reverse("agent:queue"))
    params = QueryDict(urlsplit(back).query)
    form = SavedViewForm(request.POST, shareable_teams=shareable_teams(request.user, user_teams(request.user)))
    if not form.is_valid():
        for errors in form.errors.values():
            for text in errors:
                messages.error(request, text)
        return redirect(back)
    filters = saved_view_filters_from_params(params)
    sort = params.get("sort") or None
    try:
        view = saved_view_create(
            owner=request.user, name=form.cleaned_data["name"], filters=filters, sort=sort,
            team=form.cleaned_data["team"],
        )
    except (ValidationError, PermissionDenied) as error:
        for text in getattr(error, "messages", [str(error)]):
            messages.error(request, text)
        return redirect(back)
    saved_views_changed()
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    query = {**filters, "view": f"saved-{view.pk}", "sort": view.sort}
    return redirect(f"{reverse('agent:queue')}?{urlencode(query)}")


@staff_required
@require_POST
def delete(request: HttpRequest, view_id: int) -> HttpResponse:
    view = next((v for v in saved_views_for(request.user) if v.pk == view_id), None)
    if view is None:
        raise Http404
    try:
        saved_view_delete(view=view, actor=request.user)
    except PermissionDenied:
        messages.error(request, _("You cannot delete this view."))
    else:
        saved_views_changed()
        messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("agent:queue")

