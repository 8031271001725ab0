"""Text preparation for knowledge-base search: Chinese word segmentation (jieba), Traditional →
Simplified folding (zhconv), Markdown → plain text.

PostgreSQL's parsers do not know where Chinese words end, so Chinese text is cut into words here
and handed to the `simple` configuration as space-separated tokens, at index time and at query
time alike. Both scripts are folded to Simplified first, so a zh-Hant query and a zh-Hans article
(or the reverse) meet on the same tokens."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import zhconv

if TYPE_CHECKING:
    import jieba

HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A token worth indexing has at least one letter, digit or Han character; jieba also yields
# whitespace and punctuation as tokens.
WORD_RE = re.compile(r"\w", re.UNICODE)

# Function words and question words that match nearly every article ("如何申请退款" is about
# 退款, not about 如何). Kept short on purpose: a word here can never be searched for.
_CHINESE_STOPWORDS_TEXT = """
    的 了 是 在 和 与 及 或 也 就 都 而 把 被 让 给 对 从 到 向 以 之 其 这 那 这个 那个 这些 那些
    我 你 您 他 她 它 我们 你们 他们 自己 吗 呢 吧 啊 呀 哦 嗯 么 个 些 得 地 着 过 又 还 很
    如何 怎么 怎样 怎么样 什么 为什么 为何 哪 哪里 哪个 是否 能否 可以 能 会 要 想 请 请问 一下
    有 没有 没 不 一个 如果 但是 但 因为 所以 然后 时候 可能 需要 进行
"""
CHINESE_STOPWORDS = frozenset(_CHINESE_STOPWORDS_TEXT.split())

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _cache_dir() -> str:
    """Where jieba keeps its pickled prefix dictionary. jieba's default is the shared system temp
    directory, where another local user could plant the file it loads; we use the project's data
    directory, else a directory private to this user."""
    from django.conf import settings

    candidates = [Path(getattr(settings, "HELPDESK_DATA_DIR", "")) / "jieba"] if getattr(
        settings, "HELPDESK_DATA_DIR", None) else []
    candidates.append(Path(tempfile.gettempdir()) / f"helpdesk-jieba-{os.getuid()}")
    for directory in candidates:
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            stat = directory.stat()
            if stat.st_uid == os.getuid() and not stat.st_mode & 0o022:
                return str(directory)
        except OSError:
            continue
    return tempfile.mkdtemp(prefix="helpdesk-jieba-")


def tokenizer() -> jieba.Tokenizer:
    """The process's jieba tokenizer, its dictionary loaded on first use (about a second), not at
    import: most processes (workers, migrations) never segment anything."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                # jieba logs "Building prefix dict..." at DEBUG to stderr on every load.
                jieba.setLogLevel(logging.WARNING)
                instance = jieba.Tokenizer()
                instance.tmp_dir = _cache_dir()
                instance.initialize()
                _tokenizer = instance
    return _tokenizer


def contains_han(text: str) -> bool:
    return HAN_RE.search(text) is not None


# Variants that Simplified text itself spells both ways (帐户/账户): folded to one so either
# spelling, and Traditional 帳戶 (which zhconv turns into 帐户), meet.
_VARIANT_FOLD = str.maketrans({"帐": "账"})


def to_simplified(text: str) -> str:
    """Traditional characters folded to Simplified, with Mainland wording (網路 → 网络) so a
    Taiwan-worded query meets a Mainland-worded article; other text unchanged."""
    if not contains_han(text):
        return text
    return zhconv.convert(text, "zh-cn").translate(_VARIANT_FOLD)


def normalize_query(text: str) -> str:
    """The form a query is logged and grouped by: Simplified, lower case, single spaces."""
    return " ".join(to_simplified(text).lower().split())[:200]


def _keep(token: str) -> bool:
    return bool(WORD_RE.search(token)) and token not in CHINESE_STOPWORDS


@lru_cache(maxsize=2048)
def _segment_cached(text: str) -> tuple[str, ...]:
    return tuple(
        token for token in (t.strip() for t in tokenizer().cut_for_search(text, HMM=False)) if token and _keep(token)
    )


def segment(text: str) -> list[str]:
    """Words of `text` in search-engine mode: Simplified, lower case, each long word also cut into
    the dictionary words inside it (退款政策 → 退款, 政策, 退款政策), punctuation and stopwords
    dropped. Latin words and numbers in mixed text come out whole."""
    text = to_simplified(text).lower()
    if not contains_han(text):
        return [token for token in re.findall(r"\w[\w'.+#-]*\w|\w", text) if _keep(token)]
    if len(text) <= 200:
        return list(_segment_cached(text))
    return [token for token in (t.strip() for t in tokenizer().cut_for_search(text, HMM=False)) if token and _keep(token)]


def segmented_text(text: str) -> str:
    """`segment` joined by spaces: what the `simple` text search configuration is given."""
    return " ".join(segment(text))


_FENCE_RE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK_RE = re.compile(r"\[([^\]]*)\]\[[^\]]*\]")
_REF_DEF_RE = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK_RE = re.compile(r"<(https?://[^>]+)>")
_TAG_RE = re.compile(r"<[^>]+>")
_LINE_PREFIX_RE = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+(\[[ xX]\]\s+)?|\d+[.)]\s+)", re.MULTILINE)
_RULE_RE = re.compile(r"^\s*([-*_=|:]\s*){3,}$", re.MULTILINE)
_EMPHASIS_RE = re.compile(r"(\*\*|__|\*|~~|`)")
_TABLE_PIPE_RE = re.compile(r"\s*\|\s*")
_SPACES_RE = re.compile(r"[ \t]+")


def markdown_to_text(markdown: str) -> str:
    """Readable text of a Markdown body for indexing and snippets: link and image text kept,
    URLs, markup and HTML tags dropped. Not a renderer; good enough to know which words an
    article says."""
    text = _FENCE_RE.sub("", markdown)
    text = _IMAGE_RE.sub(r"\1", text)
    text = _LINK_RE.sub(r"\1", text)
    text = _REF_LINK_RE.sub(r"\1", text)
    text = _REF_DEF_RE.sub("", text)
    text = _AUTOLINK_RE.sub(r"\1", text)
    text = _TAG_RE.sub(" ", text)
    text = _RULE_RE.sub("", text)
    for _ in range(2):  # "> - item": quote and list marker
        text = _LINE_PREFIX_RE.sub("", text)
    text = _EMPHASIS_RE.sub("", text)
    text = _TABLE_PIPE_RE.sub(" ", text)
    text = _SPACES_RE.sub(" ", text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
