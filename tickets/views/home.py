from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponse:
    """Staff land in the agent workspace, everyone else in the customer portal."""
    user = request.user
    if user.is_authenticated and user.is_staff_member:
        return redirect("agent:queue")
    return redirect("portal:home")
