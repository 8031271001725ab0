"""Bytes from mail to text: declared, mislabelled and missing charsets, RFC 2047 words, RFC 2231 parameters.

Every function here returns text and never raises on bad input. When it has to guess, it says so
in a defect string (shown to admins) instead of failing or silently dropping bytes: the last
resort is windows-1252 / latin-1, which map every byte to a character.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# Labels real mail uses for charsets Python knows under another name, or whose superset we decode
# with because senders label the superset with the subset's name (GBK text declared as gb2312,
# HKSCS characters in "big5", Microsoft extensions in "shift_jis").
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "gb18030-2022": "gb18030",
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    "macintosh": "mac-roman",
    "x-mac-roman": "mac-roman",
    "windows-874": "cp874",
    "tis620": "tis-620",
    # Mail labelled latin-1 or ASCII but containing 8-bit bytes is windows-1252 in practice (as
    # browsers assume); it decodes every latin-1 letter the same and adds the curly quotes.
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
}
# Labels that name no charset at all: decode by guessing.
_UNKNOWN_LABELS = {"", "unknown-8bit", "x-unknown", "unknown", "8bit", "default", "charset", "none", "binary"}
# Text codecs that interpret escapes or are not charsets; a sender must not be able to pick them.
_FORBIDDEN_CODECS = {"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode", "charmap"}
_ASCII_LABELS = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "iso-ir-6", "cp367", "646"}
_ISO2022_JP_CODECS = ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3")
# ESC sequences that switch ISO-2022-JP to JIS X 0208 / 0212 / roman / half-width katakana.
_JIS_ESCAPES = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b(I", b"\x1b$(D", b"\x1b$(Q", b"\x1b$(O")
_SINGLE_BYTE_PREFIXES = ("cp125", "iso8859", "iso-8859", "koi8", "mac-", "cp874", "tis-620", "cp437", "cp850")


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str
    defect: str = ""


def normalise_charset(label: str | None) -> str:
    """The Python codec name we decode `label` with, or "" when the label names no usable charset."""
    if not label:
        return ""
    return _normalise_charset(str(label)[:100])


@functools.lru_cache(maxsize=512)
def _normalise_charset(label: str) -> str:
    name = label.strip().strip("\"'").strip().lower()
    # RFC 2231 language suffix in encoded words ("utf-8*zh-cn").
    name = name.split("*", 1)[0].strip()
    if name in _UNKNOWN_LABELS:
        return ""
    if name in _ASCII_LABELS:
        return "ascii"
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return ""
    if not getattr(info, "_is_text_encoding", True) or info.name in _FORBIDDEN_CODECS:
        return ""
    return _ALIASES.get(info.name, info.name)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def _utf8_multibyte_count(data: bytes) -> int:
    """How many non-ASCII characters `data` holds as valid UTF-8, or -1 when it is not UTF-8."""
    text = _strict(data, "utf-8")
    if text is None:
        return -1
    return sum(1 for character in text if ord(character) > 0x7F)


def _cjk_scores(data: bytes) -> tuple[float, float, float]:
    """How much `data` looks like GBK and like Big5 text, and how much of it runs in CJK-like blocks.

    Real Chinese text uses the common-character planes almost exclusively: GB2312 level 1 (lead
    bytes B0-D7) and Big5's frequent characters (lead bytes A4-C6), plus full-width punctuation,
    in runs of several characters. Latin-1, Cyrillic or random bytes decode as valid GB18030 often
    but hit those planes far less, and come as isolated 8-bit bytes between ASCII letters.
    """
    sample = data[:65536]
    gb_pairs = big5_pairs = pairs = 0
    index, length = 0, len(sample)
    while index < length:
        lead = sample[index]
        if lead < 0x80:
            index += 1
            continue
        if index + 1 >= length:
            break
        trail = sample[index + 1]
        pairs += 1
        if (0xB0 <= lead <= 0xD7 or 0xA1 <= lead <= 0xA3) and 0xA1 <= trail <= 0xFE:
            gb_pairs += 1
        if (0xA4 <= lead <= 0xC6 or 0xA1 <= lead <= 0xA3) and (
            0x40 <= trail <= 0x7E or 0xA1 <= trail <= 0xFE
        ):
            big5_pairs += 1
        index += 2
    if not pairs:
        return 0.0, 0.0, 0.0
    eight_bit = sum(1 for byte in sample if byte >= 0x80)
    in_long_runs = sum(len(run) for run in re.findall(rb"[\x80-\xff]{4,}", sample))
    return gb_pairs / pairs, big5_pairs / pairs, in_long_runs / eight_bit


def _looks_cjk(data: bytes) -> str:
    gb, big5, run_share = _cjk_scores(data)
    if run_share < 0.5:
        return ""
    if gb >= 0.85 and _strict(data, "gb18030") is not None:
        return "gb18030"
    if big5 >= 0.85 and _strict(data, "big5hkscs") is not None:
        return "big5hkscs"
    return ""


def _error_count(data: bytes, codec: str) -> int:
    errors = 0
    position = 0
    decoder = codecs.getincrementaldecoder(codec)()
    # Count by retrying after each bad byte; bounded so hostile input cannot make this quadratic.
    while position < len(data) and errors <= 1000:
        try:
            decoder.decode(data[position:], final=True)
            break
        except UnicodeDecodeError as error:
            errors += 1
            position += error.end
            decoder.reset()
        except (LookupError, ValueError):
            return len(data)
    return errors


def _describe(label: str | None) -> str:
    return repr(str(label).strip()[:40]) if label else "no charset"


def decode_bytes(
    data: bytes, declared: str | None = None, *, prefer_utf8: bool = False, what: str = "Text"
) -> Decoded:
    """Decode `data` labelled `declared`, detecting mislabelled and missing charsets; never raises.

    `prefer_utf8` is for header bytes, which RFC 6532 defines as UTF-8 whatever the body says.
    """
    codec = normalise_charset(declared)
    if codec == "utf-8" or (prefer_utf8 and not codec):
        # The common case, first: valid UTF-8 needs no detection.
        text = _strict(data, "utf-8")
        if text is not None and not (data.isascii() and any(escape in data for escape in _JIS_ESCAPES)):
            return Decoded(text, "utf-8" if not data.isascii() else "ascii")
    unknown_label = bool(declared) and not codec and str(declared).strip().lower() not in _UNKNOWN_LABELS
    if data.isascii():
        if any(escape in data for escape in _JIS_ESCAPES) and not codec.startswith("iso2022"):
            for jis_codec in _ISO2022_JP_CODECS:
                text = _strict(data, jis_codec)
                if text is not None:
                    defect = (
                        ""
                        if codec in ("", "ascii")
                        else f"{what} declared {_describe(declared)} but is ISO-2022-JP"
                    )
                    return Decoded(text, jis_codec, defect)
        if codec and codec not in ("ascii", "utf-8"):
            # 7-bit charsets (UTF-7, ISO-2022-*, HZ) need their codec even for ASCII bytes.
            text = _strict(data, codec)
            if text is not None:
                return Decoded(text, codec)
        return Decoded(data.decode("ascii"), "ascii")

    multibyte = _utf8_multibyte_count(data)
    if codec == "utf-8" or (prefer_utf8 and multibyte > 0):
        if multibyte >= 0:
            return Decoded(data.decode("utf-8"), "utf-8")
    elif codec and multibyte > 0:
        single_byte = codec == "ascii" or codec.startswith(_SINGLE_BYTE_PREFIXES)
        # Valid UTF-8 by chance is rare for legacy text, and "declared latin-1 / gb2312 but written
        # in UTF-8" is the commonest mislabel there is.
        if single_byte or multibyte >= 3:
            return Decoded(
                data.decode("utf-8"), "utf-8", f"{what} declared {_describe(declared)} but is UTF-8"
            )
    if codec and codec not in ("ascii", "utf-8"):
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, codec)

    if codec and codec != "ascii":
        reason = f"{what} declared {_describe(declared)} but is not valid {codec}"
    elif codec == "ascii":
        reason = f"{what} declared {_describe(declared)} but has 8-bit bytes"
    elif unknown_label:
        reason = f"{what} declared unknown charset {_describe(declared)}"
    else:
        reason = f"{what} has 8-bit bytes and no charset"

    if multibyte >= 0:
        return Decoded(data.decode("utf-8"), "utf-8", f"{reason}; decoded as utf-8")
    guessed = _looks_cjk(data)
    if guessed:
        return Decoded(data.decode(guessed), guessed, f"{reason}; decoded as {guessed} (guessed)")
    # Mostly right but a few broken bytes (a truncated character, a corrupted line): keep the
    # reading and show the bad bytes as \xNN rather than replacing the whole text with mojibake.
    candidates = [codec] if codec and codec not in ("ascii", "utf-8") else []
    candidates += ["utf-8", "gb18030", "big5hkscs"]
    for candidate in candidates:
        errors = _error_count(data, candidate)
        if errors == 0:
            continue
        if candidate == "utf-8":
            valid = sum(1 for ch in data.decode("utf-8", "ignore") if ord(ch) > 0x7F)
            acceptable = valid >= 3 * errors
        else:
            acceptable = errors <= max(1, len(data) // 200) and (
                candidate == codec or _looks_cjk_lenient(data, candidate)
            )
        if acceptable:
            text = data.decode(candidate, "backslashreplace")
            return Decoded(
                text,
                candidate,
                f"{reason}; decoded as {candidate} with {errors} undecodable byte(s) shown as \\xNN",
            )
    text = _strict(data, "cp1252")
    if text is not None:
        return Decoded(text, "cp1252", f"{reason}; decoded as windows-1252 (guessed)")
    return Decoded(data.decode("latin-1"), "latin-1", f"{reason}; decoded as latin-1 (guessed)")


def _looks_cjk_lenient(data: bytes, codec: str) -> bool:
    gb, big5, run_share = _cjk_scores(data)
    score = gb if codec == "gb18030" else big5
    return run_share >= 0.5 and score >= 0.8


# --- RFC 2047 encoded words -------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*?)\?=")
_WHITESPACE_ONLY = re.compile(r"[ \t\r\n]*")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _decode_word_payload(encoding: str, payload: str) -> bytes | None:
    if encoding in "Bb":
        try:
            return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
        compact = re.sub(r"[^A-Za-z0-9+/=_-]", "", payload).rstrip("=")
        if not compact and payload.strip("= "):
            return None
        compact += "=" * (-len(compact) % 4)
        try:
            return base64.b64decode(compact.replace("-", "+").replace("_", "/"))
        except (binascii.Error, ValueError):
            return None
    raw = payload.encode("utf-8", "surrogateescape").replace(b"_", b" ")
    return _Q_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), raw)


def decode_encoded_words(value: str, defects: list[str] | None = None) -> str:
    """Decode RFC 2047 words in `value`, leniently (words inside quotes, words glued to text).

    Adjacent words are joined (the whitespace between them is not text, RFC 2047 §6.2), and the
    bytes of adjacent words in one charset are decoded together, because senders split multi-byte
    characters across words.
    """
    if "=?" not in value:
        return value
    pieces: list[tuple[str, str | None, bytes]] = []  # (text, charset or None for plain text, bytes)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        payload = _decode_word_payload(match.group(2), match.group(3))
        if payload is None:
            if defects is not None:
                defects.append(f"Undecodable encoded word {match.group(0)[:60]!r} kept as is")
            pieces.append((between + match.group(0), None, b""))
            position = match.end()
            continue
        previous_is_word = bool(pieces) and pieces[-1][1] is not None
        if between and not (previous_is_word and _WHITESPACE_ONLY.fullmatch(between)):
            pieces.append((between, None, b""))
        charset = match.group(1)
        if pieces and pieces[-1][1] is not None and pieces[-1][1].lower() == charset.lower():
            text, label, data = pieces[-1]
            pieces[-1] = (text, label, data + payload)
        else:
            pieces.append(("", charset, payload))
        position = match.end()
    pieces.append((value[position:], None, b""))
    out: list[str] = []
    for text, charset, data in pieces:
        if charset is None:
            out.append(text)
            continue
        decoded = decode_bytes(data, charset, what="Encoded word")
        if decoded.defect and defects is not None:
            defects.append(decoded.defect)
        out.append(decoded.text)
    return "".join(out)


def has_raw_bytes(value: str) -> bool:
    """Whether `value` carries undecoded 8-bit bytes (the email parser keeps them as surrogate escapes)."""
    return not value.isascii() and any("\udc80" <= character <= "\udcff" for character in value)


def raw_header_text(
    raw: str, hint: str | None = None, defects: list[str] | None = None, *, name: str = ""
) -> str:
    """Decode the raw 8-bit bytes of a header value, leaving RFC 2047 words as they are.

    Raw 8-bit headers are UTF-8 (RFC 6532) or, from older clients, the body's charset: `hint`.
    """
    if not has_raw_bytes(raw) and "\x1b" not in raw:
        return raw
    # ESC in a 7-bit header: raw ISO-2022-JP from old Japanese mailers, decoded like body text.
    data = raw.encode("utf-8", "surrogateescape")
    decoded = decode_bytes(data, hint, prefer_utf8=True, what=f"Header {name}".strip())
    if decoded.defect and defects is not None:
        defects.append(decoded.defect)
    return decoded.text


def header_to_text(
    raw: str, hint: str | None = None, defects: list[str] | None = None, *, name: str = ""
) -> str:
    """A raw header value (8-bit bytes carried as surrogate escapes, RFC 2047 words) to text."""
    return decode_encoded_words(raw_header_text(raw, hint, defects, name=name), defects)


# --- MIME parameters (RFC 2045 / RFC 2231) ----------------------------------------------------

_PARAMETER = re.compile(
    r"""[\s;]*(?P<name>[^\s=;"]+)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"?|[^;]*)""",
    re.DOTALL,
)
_CONTINUATION = re.compile(r"^(?P<base>[^*]+)\*(?:(?P<index>\d+)\*?|)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        value = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
        value = re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)
    return value


def parse_parameterised(
    raw: str, hint: str | None = None, defects: list[str] | None = None
) -> tuple[str, dict[str, str]]:
    """Split a Content-Type / Content-Disposition value into its main value and decoded parameters.

    Parameter names are lower-cased. RFC 2231 continuations and charsets, RFC 2047 words in quoted
    values (Outlook, many webmails) and raw 8-bit values (UTF-8 or `hint`) all end as text.
    """
    text = raw_header_text(raw, hint, defects, name="MIME parameter")
    text = re.sub(r"\r?\n[ \t]*", " ", text)
    main, _, rest = text.partition(";")
    main = main.strip().lower()
    # "text/plain charset=utf-8" (a missing semicolon) still carries a charset.
    if " " in main and "=" in main:
        main, _, missing = main.partition(" ")
        rest = missing + ";" + rest
    simple: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in _PARAMETER.finditer(rest):
        name = match.group("name").strip().lower()
        value = match.group("value")
        continuation = _CONTINUATION.match(name)
        if continuation:
            base = continuation.group("base")
            index = int(continuation.group("index") or 0)
            is_encoded = name.endswith("*")
            extended.setdefault(base, {})[index] = (_unquote(value), is_encoded)
        else:
            simple.setdefault(name, _unquote(value))
    params = {name: decode_encoded_words(value, defects) for name, value in simple.items()}
    for base, segments in extended.items():
        charset = ""
        data = b""
        order = sorted(segments)[:1000]
        for index in order:
            value, is_encoded = segments[index]
            if is_encoded:
                if index == order[0] and value.count("'") >= 2:
                    charset, _, value = value.partition("'")
                    _, _, value = value.partition("'")
                data += unquote_to_bytes(value)
            else:
                data += value.encode("utf-8", "surrogateescape")
        decoded = decode_bytes(data, charset or hint, prefer_utf8=not charset, what=f"Parameter {base}")
        if decoded.defect and defects is not None:
            defects.append(decoded.defect)
        # The RFC 2231 form is the one meant for non-ASCII names; it wins over a plain duplicate.
        params[base] = decode_encoded_words(decoded.text, defects)
    return main, params
