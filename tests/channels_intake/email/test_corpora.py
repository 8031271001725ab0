"""Whole corpora: ours, django-helpdesk's and CPython's. Nothing crashes, nothing readable is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels_intake.email import UnparseableEmail, parse_email
from tests.channels_intake.email.corpus import FIXTURES, PEER_MAIL, cpython_mail_dir, missing_content, parse

OUR_CORPUS = sorted(FIXTURES.glob("*.eml"))
DJANGO_HELPDESK = sorted((PEER_MAIL / "django-helpdesk").glob("*.eml"))
CPYTHON = sorted(cpython_mail_dir().glob("msg_*.txt"))
# The oracle reads this one differently on purpose: the stdlib ends the headers at the stray line.
ORACLE_DISAGREES = {"malformed_broken_base64_and_headers.eml"}
# A mailing-list digest body without a single header line: no sender, no mail (failed-mail inbox).
CPYTHON_UNPARSEABLE = {"msg_19.txt"}


def test_our_corpus_has_at_least_forty_awkward_messages_each_asserted_by_a_test():
    assert len(OUR_CORPUS) >= 40
    tests = "\n".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    unasserted = [path.name for path in OUR_CORPUS if f'"{path.name}"' not in tests]
    assert unasserted == []


@pytest.mark.parametrize("path", OUR_CORPUS, ids=[path.name for path in OUR_CORPUS])
def test_our_corpus_loses_no_text_and_no_file(path):
    raw = path.read_bytes()
    parsed = parse_email(raw)

    assert parsed.from_address
    assert parsed.body_text or parsed.attachments
    if path.name not in ORACLE_DISAGREES:
        assert missing_content(raw, parsed) == []


@pytest.mark.parametrize("path", CPYTHON, ids=[path.name for path in CPYTHON])
def test_cpython_email_corpus_parses_and_keeps_its_text(path):
    raw = path.read_bytes()

    if path.name in CPYTHON_UNPARSEABLE:
        with pytest.raises(UnparseableEmail):
            parse_email(raw)
        return
    parsed = parse_email(raw)

    assert missing_content(raw, parsed) == []
    assert "\x00" not in parsed.body_text


def test_django_helpdesk_corpus_is_all_there():
    # An empty glob would make the parametrized test above pass vacuously.
    assert [path.name for path in DJANGO_HELPDESK] == [
        "all-special-chars.eml", "blank-body-with-attachment.eml", "forwarded-message.eml", "pgp.eml",
        "quoted_printable.eml", "utf-nondecodable.eml",
    ]


def test_cpython_corpus_is_the_one_the_readme_names():
    assert len(CPYTHON) == 48  # 47 numbered messages plus msg_12a


@pytest.mark.parametrize("path", DJANGO_HELPDESK, ids=[path.name for path in DJANGO_HELPDESK])
def test_django_helpdesk_corpus_parses_and_keeps_its_text(path):
    raw = path.read_bytes()

    parsed = parse_email(raw)

    assert missing_content(raw, parsed) == []


def test_django_helpdesk_mails_read_as_their_senders_wrote_them():
    def peer(name: str):
        return parse_email((PEER_MAIL / "django-helpdesk" / name).read_bytes())

    special = peer("all-special-chars.eml")
    assert (special.subject, special.body_text) == ("Testovácí email", "íářčšáíéřášč")

    blank = peer("blank-body-with-attachment.eml")
    assert blank.body_text == ""
    assert [(a.filename, a.content) for a in blank.attachments] == [("baf", b"You shouldn't see this.\n")]

    forwarded = peer("forwarded-message.eml")
    assert forwarded.new_text == "This is email body"
    assert "We noticed that, at April 5th, 2021 at 23:09 (UTC) your application" in forwarded.body_text

    signed = peer("pgp.eml")
    assert signed.new_text.startswith("hi, thanks for looking into this :)")
    assert (
        "https://github.com/django-helpdesk/django-helpdesk/issues/567#issuecomment-342954233"
        in signed.body_text
    )
    assert [a.filename for a in signed.attachments] == ["signature.asc"]

    printable = peer("quoted_printable.eml")
    assert printable.subject == "Český test"
    assert printable.new_text == "Tohle je test českých písmen odeslaných z gmailu."

    fwd = peer("utf-nondecodable.eml")
    assert fwd.subject == "Fwd: Cyklozaměstnavatel - změna vyhodnocení"
    assert "podle domluvy bych Tě poprosila o změnu vyhodnocení soutěže" in fwd.new_text
    assert "prosazuje lepší" in (fwd.body_html or "")


def test_cpython_dsn_samples_are_bounces_about_the_original_message():
    report = parse_email((cpython_mail_dir() / "msg_16.txt").read_bytes())

    assert report.is_bounce
    assert report.delivery_report is not None and report.delivery_report.failed_recipients


def test_cpython_forwarded_samples_are_summarised():
    parsed = parse_email((cpython_mail_dir() / "msg_46.txt").read_bytes())

    assert parsed.forwarded
    assert parsed.attachments[parsed.forwarded[0].attachment_index].content_type == "message/rfc822"


def test_every_corpus_file_can_be_read_by_name():
    assert parse("charset_utf8_8bit.eml").message_id == "utf8-8bit-001@example.cn"
