"""Random MIME trees in random charsets, well-formed or broken: the parser never crashes and loses nothing.

`parse_email` turns an internal error into UnparseableEmail so that no mail is ever lost; these
tests therefore also fail on an "Internal parser error", which would be a bug hidden that way.
"""

from __future__ import annotations

import base64
import quopri
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_intake.email import ParsedEmail, UnparseableEmail, parse_email
from tests.channels_intake.email.corpus import FIXTURES

# Labels as mail declares them -> the codec the bytes are written in (None: a label no codec has).
CHARSETS = {
    "utf-8": "utf-8",
    "UTF-8": "utf-8",
    "gb2312": "gb2312",
    "gbk": "gbk",
    "GB18030": "gb18030",
    "big5": "big5",
    "big5-hkscs": "big5hkscs",
    "iso-2022-jp": "iso2022_jp",
    "shift_jis": "shift_jis",
    "euc-kr": "euc_kr",
    "iso-8859-1": "latin-1",
    "iso-8859-2": "iso8859_2",
    "iso-8859-5": "iso8859_5",
    "windows-1251": "cp1251",
    "windows-1252": "cp1252",
    "koi8-r": "koi8_r",
    "utf-7": "utf-7",
    "us-ascii": "ascii",
    "x-bogus-charset": None,
    "": None,
}
# Charsets we decode with exactly the codec that wrote them (others we widen to a superset whose
# mapping differs for a few code points, or read windows-1252 for latin-1, on purpose).
EXACT_CHARSETS = {
    "utf-8",
    "UTF-8",
    "GB18030",
    "iso-2022-jp",
    "iso-8859-2",
    "iso-8859-5",
    "windows-1251",
    "koi8-r",
}
TRANSFER_ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-bogus", ""]
LEAF_TYPES = [
    "text/plain",
    "text/html",
    "image/png",
    "application/octet-stream",
    "application/pdf",
    "text/calendar",
    "application/ms-tnef",
    "message/delivery-status",
    "text/rfc822-headers",
]
SUBTYPES = ["mixed", "alternative", "related", "signed", "report", "digest", "encrypted", "x-unknown"]
FAULTS = ["none", "none", "none", "no_close", "wrong_boundary", "no_boundary_parameter"]

printable_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


@dataclass
class Built:
    data: bytes
    is_well_formed: bool = True
    files: list[bytes] = field(default_factory=list)  # contents that must come out as attachments
    texts: list[str] = field(default_factory=list)  # texts that must be in body_text


def transfer_encode(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        return quopri.encodestring(data)
    return data


def word(text: str, label: str, codec: str | None, style: str) -> bytes:
    data = text.encode(codec or "utf-8", errors="replace")
    if style == "raw":
        return data.replace(b"\r", b" ").replace(b"\n", b" ")
    if style == "b":
        return f"=?{label or 'x'}?B?{base64.b64encode(data).decode()}?=".encode()
    if style == "q":
        encoded = "".join(chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}" for b in data)
        return f"=?{label or 'x'}?Q?{encoded}?=".encode()
    return f"=?{label}?B?{base64.b64encode(data).decode()[:-1]}?=".encode()  # broken padding


@st.composite
def header_text(draw) -> bytes:
    label = draw(st.sampled_from(sorted(CHARSETS)))
    return word(
        draw(printable_text), label, CHARSETS[label], draw(st.sampled_from(["raw", "b", "q", "broken"]))
    )


@st.composite
def leaves(draw, *, plain_context: bool) -> Built:
    content_type = draw(st.sampled_from(LEAF_TYPES))
    label = draw(st.sampled_from(sorted(CHARSETS)))
    codec = CHARSETS[label]
    encoding = draw(st.sampled_from(TRANSFER_ENCODINGS))
    if content_type.startswith("text/"):
        text = draw(printable_text)
        data = text.encode(codec or "utf-8", errors="replace")
    else:
        data = draw(st.binary(max_size=300))
    headers = f"Content-Type: {content_type}".encode()
    if label:
        headers += f'; charset="{label}"'.encode()
    if encoding:
        headers += f"\nContent-Transfer-Encoding: {encoding}".encode()
    disposition = draw(st.sampled_from(["", "inline", "attachment"]))
    filename = draw(st.one_of(st.none(), header_text()))
    if filename is not None and not disposition:
        disposition = "attachment"
    if disposition:
        headers += b"\nContent-Disposition: " + disposition.encode()
    if filename is not None:
        if draw(st.booleans()):
            headers += b'; filename="' + filename.replace(b'"', b"").replace(b"\\", b"") + b'"'
        else:
            headers += b"; filename*=utf-8''" + "".join(f"%{b:02X}" for b in filename).encode()
    if draw(st.booleans()):
        headers += b"\nContent-ID: <" + draw(st.text("abc@.-_ <>\"'", max_size=20)).encode() + b">"
    built = Built(data=headers + b"\n\n" + transfer_encode(data, encoding))
    safe_bytes = encoding == "base64"
    if safe_bytes and disposition == "attachment" and content_type not in ("message/delivery-status",):
        built.files.append(data)
    if (
        plain_context
        and content_type == "text/plain"
        and label in EXACT_CHARSETS
        and encoding in ("base64", "quoted-printable")
        and disposition != "attachment"
        and filename is None
    ):
        built.texts.append(data.decode(codec))
    return built


@st.composite
def trees(draw, depth: int = 0, *, plain_context: bool = True) -> Built:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaves(plain_context=plain_context))
    if draw(st.integers(0, 5)) == 0:
        inner = draw(messages(depth + 1))
        return Built(
            data=b"Content-Type: message/rfc822\n\n" + inner.data, is_well_formed=inner.is_well_formed
        )
    subtype = draw(st.sampled_from(SUBTYPES))
    children = [
        draw(trees(depth + 1, plain_context=plain_context and subtype == "mixed"))
        for _ in range(draw(st.integers(0, 4)))
    ]
    fault = draw(st.sampled_from(FAULTS))
    boundary = f"=_b{depth}_{draw(st.integers(0, 10**8)):08d}_="
    declared = "other-boundary" if fault == "wrong_boundary" else boundary
    header = f"Content-Type: multipart/{subtype}".encode()
    if fault != "no_boundary_parameter":
        header += f'; boundary="{declared}"'.encode()
    body = b"".join(b"--" + boundary.encode() + b"\n" + child.data + b"\n" for child in children)
    if fault != "no_close":
        body += b"--" + boundary.encode() + b"--\n"
    built = Built(data=header + b"\n\npreamble\n" + body)
    built.is_well_formed = fault == "none" and all(child.is_well_formed for child in children)
    for child in children:
        built.files += child.files
        built.texts += child.texts
    return built


@st.composite
def messages(draw, depth: int = 0) -> Built:
    headers = b"From: " + draw(header_text()) + b" <sender@example.org>\n"
    headers += b"To: " + draw(header_text()) + b" <support@example.com>, " + draw(header_text()) + b"\n"
    headers += b"Subject: " + draw(header_text()) + b"\n"
    if draw(st.booleans()):
        headers += (
            b"Date: " + draw(st.sampled_from([b"Mon, 1 Apr 2024 10:00:00 +0800", b"garbage", b""])) + b"\n"
        )
    if draw(st.booleans()):
        headers += (
            b"Message-ID: <" + draw(st.text("abcdef0123456789@.", min_size=1, max_size=30)).encode() + b">\n"
        )
    headers += b"MIME-Version: 1.0\n"
    tree = draw(trees(depth))
    return Built(
        data=headers + tree.data, is_well_formed=tree.is_well_formed, files=tree.files, texts=tree.texts
    )


def assert_storable(parsed: ParsedEmail) -> None:
    for text in (parsed.subject, parsed.from_name, parsed.body_text, parsed.new_text, parsed.body_html or ""):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates: PostgreSQL must be able to store it
    for one_line in [parsed.subject, parsed.from_name] + [address.name for address in parsed.to]:
        assert "\r" not in one_line and "\n" not in one_line
    assert all(attachment.filename for attachment in parsed.attachments)
    assert 0 < len(parsed.external_id) <= 512


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(messages())
def test_random_mime_trees_parse_without_crash_or_loss(message):
    parsed = parse_email(message.data)  # never UnparseableEmail: every generated mail has headers

    assert_storable(parsed)
    assert parsed.from_address == "sender@example.org"
    if message.is_well_formed:
        contents = [attachment.content for attachment in parsed.attachments]
        for data in message.files:
            assert data in contents
        for text in message.texts:
            for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
                assert line.strip().replace("\x00", "\ufffd") in parsed.body_text


CORPUS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CORPUS),
    st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=8), st.integers(0, 16)), max_size=6),
    st.floats(0.05, 1),
)
def test_corrupted_corpus_mail_ends_as_a_message_or_as_unparseable(raw, edits, keep):
    data = bytearray(raw[: max(1, int(len(raw) * keep))])
    for position, insert, delete in edits:
        index = int(position * len(data))
        data[index : index + delete] = insert

    try:
        parsed = parse_email(bytes(data))
    except UnparseableEmail as error:
        assert not str(error).startswith("Internal parser error"), str(error)
        return
    assert_storable(parsed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(data):
    try:
        parsed = parse_email(data)
    except UnparseableEmail as error:
        assert not str(error).startswith("Internal parser error"), str(error)
        return
    assert_storable(parsed)
