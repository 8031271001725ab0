"""Repository-wide pytest settings that do not depend on the embedded services (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.3 s per user; tests create hundreds of users.
    # tests/helpdesk/test_security_settings.py checks the production default separately.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
