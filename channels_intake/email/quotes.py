"""What the sender wrote now, apart from the quoted history and the signature below it.

Works on the lines a person reads, for the reply styles of Gmail, Outlook (desktop, web, mobile),
Apple Mail, Thunderbird, Foxmail and QQ Mail, in English and Chinese. It only ever cuts at a
recognised reply header or at a trailing block of "> " lines, and it never returns an empty new
text for a message that has text: the full text is always kept next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_SEPARATOR_WORDS = (
    r"original message|original|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|"
    r"oorspronkelijk bericht|reply message|原始邮件|原始郵件|原始信件|原邮件|原郵件|回复的原邮件"
)
_SEPARATOR = re.compile(rf"^\s*-{{2,}}\s*({_SEPARATOR_WORDS})\s*-{{2,}}\s*$", re.IGNORECASE)
# "On Mon, 1 Jan 2024 at 10:00, Ann <ann@example.com> wrote:" and its European cousins.
_ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|il|op|den|på|em)\s.{0,300}(wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|escreveu)"
    r"(\s.{0,120})?\s*:\s*$",
    re.IGNORECASE,
)
# Gmail/Apple Mail in Chinese: "张三 <a@b.c> 于2024年1月1日周一 10:00写道：", "在 2024年1月1日，…写道：".
_CHINESE_ATTRIBUTION = re.compile(r"^.{0,300}(写道|寫道)\s*[:：]\s*$")
_HEADER_LABEL = r"\s*[*\[]?\s*({labels})\s*[*\]]?\s*[:：]"
_FROM_LINE = re.compile(
    _HEADER_LABEL.format(labels=r"from|发件人|發件人|寄件者|寄件人|von|de|da|van|od|från|fra"), re.IGNORECASE
)
_OTHER_HEADER_LINE = re.compile(
    _HEADER_LABEL.format(
        labels=r"sent|date|to|cc|subject|发送时间|發送時間|寄件日期|日期|时间|時間|收件人|收件者|抄送|副本|主题|主題|主旨|"
        r"gesendet|datum|an|betreff|envoyé|à|objet|enviado|para|asunto|inviato|oggetto|verzonden|onderwerp"
    ),
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(_{8,}|-{8,}|={8,})\s*$")
_QUOTED = re.compile(r"^\s*>")
_MOBILE_FOOTER = re.compile(
    r"^\s*(sent from my .{1,60}|sent from (mail|outlook) for .{1,40}|get outlook for .{1,40}|"
    r"sent from yahoo mail.{0,40}|发自我的.{1,30}|從我的.{1,30}傳送|从我的.{1,30}发送|發自我的.{1,30}|"
    r"来自.{1,20}(邮箱|客户端|手机)|來自.{1,20}(郵箱|用戶端|手機))\s*$",
    re.IGNORECASE,
)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|fw|wg|tr|转发|轉發|轉寄|转寄)\s*[:：]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|vs|antw|回复|回覆|答复|答覆)\s*[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyParts:
    new_text: str
    quoted_text: str
    signature: str


def is_forward_subject(subject: str) -> bool:
    """A forwarded mail ("Fwd: …", "转发：…"), not a reply to one: the forwarded text is its content."""
    return bool(_FORWARD_PREFIX.match(subject or "")) and not _REPLY_PREFIX.match(subject or "")


def _is_header_block(lines: list[str], index: int) -> bool:
    if not _FROM_LINE.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 8] if line.strip()][:5]
    return sum(1 for line in following if _OTHER_HEADER_LINE.match(line)) >= 2


def _is_attribution(line: str) -> bool:
    # Client attribution lines always carry a date or time; prose like "On Monday I wrote:" does not.
    return (
        len(line) <= 400
        and bool(re.search(r"\d", line))
        and bool(_ATTRIBUTION.match(line) or _CHINESE_ATTRIBUTION.match(line))
    )


def find_quote_start(lines: list[str], *, allow_quoted_block: bool = True) -> int | None:
    """The index of the first line of quoted history in `lines`, or None."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _SEPARATOR.match(stripped) or _is_header_block(lines, index):
            return _include_rule_above(lines, index)
        if _is_attribution(stripped):
            return index
        if re.match(r"^\s*(on|am|le|el|il|op|den|på|em)\s", stripped, re.IGNORECASE) and not _QUOTED.match(
            line
        ):
            # Attribution lines wrapped over two or three lines ("On …, Ann <\nann@example.com> wrote:").
            for end in (2, 3):
                candidate = " ".join(part.strip() for part in lines[index : index + end])
                if _is_attribution(candidate):
                    return index
    if not allow_quoted_block:
        return None
    # A final block of "> " lines under the new text (a reply style without a header line).
    last_unquoted = None
    for index, line in enumerate(lines):
        if line.strip() and not _QUOTED.match(line):
            last_unquoted = index
    if last_unquoted is None:
        return None
    tail = lines[last_unquoted + 1 :]
    if not any(_QUOTED.match(line) for line in tail):
        return None
    start = last_unquoted + 1
    attribution = lines[last_unquoted].strip()
    if attribution.endswith((":", "：")) and len(attribution) <= 200 and last_unquoted > 0:
        start = last_unquoted
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start if any(line.strip() for line in lines[:start]) else None


def _include_rule_above(lines: list[str], index: int) -> int:
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above >= 0 and _RULE.match(lines[above]):
        return above
    return index


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].rstrip() in ("--", "-- ") or lines[index] == "-- ":
            below = [line for line in lines[index + 1 :] if line.strip()]
            if len(below) <= 20:
                return lines[:index], lines[index:]
            break
    non_blank = [index for index, line in enumerate(lines) if line.strip()]
    if non_blank and _MOBILE_FOOTER.match(lines[non_blank[-1]]) and len(non_blank) > 1:
        return lines[: non_blank[-1]], lines[non_blank[-1] :]
    return lines, []


def split_reply(text: str, *, is_forward: bool = False) -> ReplyParts:
    """Split a plain-text body into new text, quoted history and signature.

    A forwarded mail keeps its whole text as new text (the forwarded part is what the sender
    wants us to read); so does a message whose every line is quoted.
    """
    lines = text.split("\n")
    start = None if is_forward else find_quote_start(lines)
    own, quoted = (lines, []) if start is None else (lines[:start], lines[start:])
    if not "\n".join(own).strip():
        own, quoted = lines, []
    body, signature = _split_signature(own)
    if not "\n".join(body).strip():
        body, signature = own, []
    if not signature and quoted:
        # A signature under the quoted history (reply above the quote, signature at the very end).
        history, tail = _split_signature(quoted)
        if tail and not any(_QUOTED.match(line) for line in tail):
            quoted, signature = history, tail
    return ReplyParts(
        new_text="\n".join(body).strip("\n").rstrip(),
        quoted_text="\n".join(quoted).strip("\n"),
        signature="\n".join(signature).strip("\n"),
    )


# --- HTML -------------------------------------------------------------------------------------

_QUOTE_CLASSES = (
    "gmail_quote",
    "moz-cite-prefix",
    "yahoo_quoted",
    "protonmail_quote",
    "outlookmessageheader",
)
_QUOTE_IDS = (
    "divrplyfwdmsg",
    "appendonsend",
    "mail-editor-reference-message-container",
    "isreplycontent",
    "origbody",
    "stopspelling",
    "ntes-flashmail-quote",
)
_OUTLOOK_HEADER_STYLE = re.compile(r"border-top\s*:\s*solid\s+#(e1e1e1|b5c4df)", re.IGNORECASE)
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "pre",
}


class _QuoteScanner(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0]
        for match in re.finditer("\n", html):
            self.line_starts.append(match.end())
        self.lines: list[str] = [""]
        # Raw offset of the first tag after the last visible text: where a cut before a line starts.
        self.line_anchor: list[int] = [0]
        self.gap_anchor: int | None = 0
        self.marker: int | None = None
        self.skip_depth = 0

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _note_tag(self) -> None:
        if self.gap_anchor is None:
            self.gap_anchor = self._offset()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._note_tag()
        if tag in ("script", "style", "head", "title"):
            self.skip_depth += 1
        attributes = {name.lower(): (value or "") for name, value in attrs}
        classes = attributes.get("class", "").lower()
        is_marker = (
            any(name in classes for name in _QUOTE_CLASSES)
            or attributes.get("id", "").lower() in _QUOTE_IDS
            or (tag == "blockquote" and attributes.get("type", "").lower() == "cite")
            or (tag == "div" and bool(_OUTLOOK_HEADER_STYLE.search(attributes.get("style", ""))))
        )
        if is_marker and self.marker is None:
            self.marker = self.gap_anchor
        if tag in _BLOCK_TAGS:
            self._new_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style", "head", "title"):
            self.skip_depth = max(0, self.skip_depth - 1)

    def handle_endtag(self, tag: str) -> None:
        self._note_tag()
        if tag in ("script", "style", "head", "title"):
            self.skip_depth = max(0, self.skip_depth - 1)
        if tag in _BLOCK_TAGS:
            self._new_line()

    def _new_line(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")
            self.line_anchor.append(self.gap_anchor if self.gap_anchor is not None else self._offset())

    def handle_data(self, data: str) -> None:
        if self.skip_depth or not data:
            return
        if data.strip():
            if not self.lines[-1].strip():
                self.line_anchor[-1] = self.gap_anchor if self.gap_anchor is not None else self._offset()
            self.gap_anchor = None
        self.lines[-1] += data.replace("\xa0", " ").replace("\n", " ")


def cut_html_reply(html: str, *, is_forward: bool = False) -> str | None:
    """The raw HTML before the quoted history (unbalanced; sanitise it), or None when nothing is quoted."""
    if is_forward or not html:
        return None
    scanner = _QuoteScanner(html)
    try:
        scanner.feed(html)
        scanner.close()
    except (AssertionError, ValueError, IndexError):
        return None
    cut = scanner.marker
    line_index = find_quote_start(scanner.lines, allow_quoted_block=False)
    if line_index is not None:
        text_cut = scanner.line_anchor[line_index]
        cut = text_cut if cut is None else min(cut, text_cut)
    if not cut:
        return None
    head = html[:cut]
    if not re.sub(r"<[^>]*>|&nbsp;|\s", "", head):
        return None
    return head
