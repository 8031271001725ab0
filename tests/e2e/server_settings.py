"""Settings of the browser tests' server: the real settings with the tests' fast password hasher.

The test process hashes passwords with MD5 (see the repository-root conftest.py), and Django only
verifies hashes made by a hasher listed in PASSWORD_HASHERS. MD5 comes first so that signing in does
not upgrade the hash (1-2 s of PBKDF2 per sign-in on a busy 2-core machine); the production default
is tested in tests/helpdesk/test_security_settings.py.
"""

from django.conf import global_settings

from helpdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
