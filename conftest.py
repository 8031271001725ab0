"""Repository-wide pytest settings that do not depend on the embedded services (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.3 s per user; tests create hundreds of users.
    # tests/helpdesk/test_security_settings.py checks the production default separately.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Give each pytest process its own test database on the shared embedded server.

    Several local runs (and xdist workers) may use one PostgreSQL at once; with one fixed name
    they would drop each other's database mid-run.
    """
    import os

    from django.conf import settings

    for alias in settings.DATABASES:
        database = settings.DATABASES[alias]
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{os.getpid()}"
