"""Access to the mail corpora the email tests read: ours (tests/fixtures/mail) and the peers'."""

from __future__ import annotations

import os
from pathlib import Path

from channels_intake.email import ParsedEmail, parse_email

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
PEER_MAIL = Path(__file__).resolve().parents[3].parent / "shared" / "peer-mail"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str) -> ParsedEmail:
    return parse_email(raw(name))


def cpython_mail_dir() -> Path:
    """CPython's e-mail test data, shipped with the interpreter (see ../shared/peer-mail/README.md)."""
    import test.test_email

    return Path(os.path.dirname(test.test_email.__file__)) / "data"
