"""Signing in and out (agents and customers alike), sign-up, email verification, password reset, preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from helpdesk.middleware import client_ip
from tickets.portal_forms import LoginForm, PreferencesForm, QueuedPasswordResetForm, SignupForm
from tickets.services import accounts

EMAIL_ACTIONS_REFUSED = gettext_lazy("Too many requests from your network. Please try again later.")


def _email_actions_per_hour() -> int:
    return int(getattr(settings, "HELPDESK_EMAIL_ACTIONS_PER_HOUR", 10))


def _email_action_allowed(request: HttpRequest, action: str) -> bool:
    return accounts.action_allowed(
        action=action, ip=client_ip(request), limit=_email_actions_per_hour(), window_seconds=3600
    )


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    """`candidate` if it points back into this site, else ''."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.method != "POST":
        if request.user.is_authenticated:
            # Not `next`: a page that sent a signed-in user here would only send them back again.
            return redirect("home")
        return render(request, "accounts/login.html", {"form": LoginForm(), "next": next_url})

    form = LoginForm(request.POST)
    refused = False
    if form.is_valid():
        username, password = form.cleaned_data["username"], form.cleaned_data["password"]
        attempt = accounts.login_attempt_begin(username=username, ip=client_ip(request))
        user = None
        if attempt.allowed:
            user = authenticate(request, username=username, password=password)
        else:
            # As much work as a real check, so response time does not tell a lockout apart.
            make_password(password)
        if user is not None:
            accounts.login_attempt_succeeded(attempt)
            auth_login(request, user)
            return redirect(next_url or "home")
        refused = True
        form = LoginForm(initial={"username": username})
    return render(request, "accounts/login.html", {"form": form, "next": next_url, "refused": refused})


logout_view = auth_views.LogoutView.as_view()


@sensitive_post_parameters("password", "password_confirm")
@csrf_protect
@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not _email_action_allowed(request, "signup"):
            form.add_error(None, EMAIL_ACTIONS_REFUSED)
        else:
            accounts.customer_signup(
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                language=translation.get_language() or "",
            )
            # The same page whether or not the address already had an account.
            request.session["signup_email"] = form.cleaned_data["email"]
            return redirect("accounts:signup_done")
    return render(request, "accounts/signup.html", {"form": form})


@never_cache
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_done.html", {"email": request.session.get("signup_email", "")})


@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = accounts.customer_email_verify(token=token)
    except ValidationError as error:
        return render(request, "accounts/verify_failed.html", {"problem": error.messages[0]}, status=400)
    if request.user.is_authenticated and request.user.pk == user.pk:
        messages.success(request, _("Thank you, your email address is confirmed."))
        return redirect("home")
    return render(request, "accounts/verify_done.html", {"verified_user": user})


@require_POST
@login_required
def verify_resend(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.email_verified_at is None and user.email:
        if _email_action_allowed(request, "verify-resend"):
            accounts.email_verification_send(user=user)
            messages.success(request, _("We sent a new link to %(email)s.") % {"email": user.email})
        else:
            messages.error(request, EMAIL_ACTIONS_REFUSED)
    return redirect("home")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"display_name": user.display_name, "language": user.language, "timezone": user.timezone,
               "notify_on_assignment": user.notify_on_assignment,
               "notify_on_customer_reply": user.notify_on_customer_reply,
               "notify_on_sla": user.notify_on_sla}
    form = PreferencesForm(request.POST or None, initial=initial, with_notifications=user.is_staff_member)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.user_preferences_update(
                user=user,
                display_name=form.cleaned_data["display_name"],
                language=form.cleaned_data["language"],
                timezone_name=form.cleaned_data["timezone"],
                notify_on_assignment=form.cleaned_data.get("notify_on_assignment"),
                notify_on_customer_reply=form.cleaned_data.get("notify_on_customer_reply"),
                notify_on_sla=form.cleaned_data.get("notify_on_sla"),
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            language = user.language or translation.get_language_from_request(request)
            translation.activate(language)
            messages.success(request, _("Your preferences are saved."))
            response = redirect("accounts:preferences")
            # The language cookie outranks the profile, so it follows the profile's new choice.
            if user.language:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME, user.language, max_age=settings.LANGUAGE_COOKIE_AGE,
                    samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
                )
            else:
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
            return response
    return render(request, "accounts/preferences.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    form_class = QueuedPasswordResetForm
    email_template_name = "accounts/email/password_reset_body.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        if not _email_action_allowed(self.request, "password-reset"):
            form.add_error(None, EMAIL_ACTIONS_REFUSED)
            return self.form_invalid(form)
        self.extra_email_context = {"site_url": str(settings.HELPDESK_SITE_URL).rstrip("/")}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # The reset link reached this mailbox, which proves the address as well as a verification link.
        accounts.user_email_confirm(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:preferences")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, _("Your password is changed."))
        return super().form_valid(form)
