"""Security defaults that hold in production settings (not overridden by test fixtures)."""

import importlib

from django.conf import settings as django_settings


def test_production_password_hasher_is_djangos_default():
    production = importlib.import_module("helpdesk.settings")

    assert not hasattr(production, "PASSWORD_HASHERS")  # Django's default list, PBKDF2 first
    from django.conf import global_settings

    assert global_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def test_csrf_and_clickjacking_middleware_are_on():
    assert "django.middleware.csrf.CsrfViewMiddleware" in django_settings.MIDDLEWARE
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in django_settings.MIDDLEWARE
    assert django_settings.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert django_settings.SESSION_COOKIE_HTTPONLY is True


def test_every_page_carries_a_content_security_policy(client):
    response = client.get("/healthz")

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_forwarded_for_is_ignored_from_untrusted_peers(rf, settings):
    from helpdesk.middleware import TrustedProxyMiddleware

    seen = {}

    def view(request):
        seen["ip"] = request.META["REMOTE_ADDR"]
        from django.http import HttpResponse

        return HttpResponse()

    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    middleware = TrustedProxyMiddleware(view)

    middleware(rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4"))
    assert seen["ip"] == "203.0.113.9"

    middleware(rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"))
    assert seen["ip"] == "198.51.100.7"
