"""Reading PBX call-detail records (CDRs): Asterisk `Master.csv` and any CSV with a column mapping.

Pure parsing, no database: `cdr_rows` turns the bytes of a file into one `CallRecord` per good row
and one `RowError` (line number and a translated reason) per bad one, so an import can take the good
rows and report the bad ones. The import itself is channels_intake.phone.cdr_import.

Formats
-------
* **asterisk**: the 18 columns `cdr_csv` writes (accountcode, src, dst, dcontext, clid, channel,
  dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags,
  uniqueid, userfield). A first row naming the columns (it contains `src`, `dst` and `uniqueid`) is
  a header and its names are used, so files with further columns (linkedid, sequence) read too;
  without one the 18 columns are read by position and a row with another count is bad.
* **csv**: any CSV whose columns are named in a mapping from our field to the file's column (a
  header name, or a 0-based index for a file without a header): call_id, from, to, start (required),
  answer, end, duration, disposition, caller_name, agent_extension, direction. Without a mapping
  the file's header names are expected to be our field names.

Encodings: each line is read as UTF-8 (a BOM is dropped) and, when it is not UTF-8, as GB18030 (a
superset of GBK and GB2312, which Chinese PBXs write caller names in). Per line, because PBX logs are
appended to for years and change encoding when the PBX is upgraded.

Times without an offset are the PBX's local time (the import's time zone, else the setting
HELPDESK_PHONE_PBX_TIMEZONE, else TIME_ZONE) and are returned in UTC.

Direction (a mapped `direction` column wins; otherwise this rule): a number is *internal* when it
matches HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN (default: 2 to 6 digits, i.e. an extension).
* caller external, callee internal → inbound (someone rang an agent or a queue extension);
* caller internal, callee external → outbound (an agent dialled out);
* both internal → internal (agent to agent: not a customer call, skipped by the import);
* both external (the callee is one of our DIDs, or a trunk rewrote the caller id) → outbound when
  the dialplan context matches HELPDESK_PHONE_OUTBOUND_CONTEXT_PATTERN (default `from-internal`,
  `outbound`, `outgoing`…), else inbound.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.translation import gettext as _

ASTERISK_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
    "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
)
MAPPING_FIELDS = (
    "call_id", "from", "to", "start", "answer", "end", "duration", "disposition", "caller_name", "agent_extension",
    "direction",
)
REQUIRED_MAPPING_FIELDS = ("call_id", "from", "to", "start")

INBOUND = "inbound"
OUTBOUND = "outbound"
INTERNAL = "internal"

ANSWERED = "ANSWERED"
NO_ANSWER = "NO ANSWER"
BUSY = "BUSY"
FAILED = "FAILED"
# Asterisk's dispositions and the spellings other PBXs and exports use for them.
DISPOSITIONS = {
    "answered": ANSWERED, "answer": ANSWERED, "completed": ANSWERED, "connected": ANSWERED,
    "no answer": NO_ANSWER, "no-answer": NO_ANSWER, "noanswer": NO_ANSWER, "missed": NO_ANSWER,
    "unanswered": NO_ANSWER, "not answered": NO_ANSWER, "cancel": NO_ANSWER, "canceled": NO_ANSWER,
    "cancelled": NO_ANSWER,
    "busy": BUSY,
    "failed": FAILED, "congestion": FAILED, "chanunavail": FAILED,
}
DIRECTIONS = {
    "inbound": INBOUND, "in": INBOUND, "incoming": INBOUND, "inbound-api": INBOUND,
    "outbound": OUTBOUND, "out": OUTBOUND, "outgoing": OUTBOUND, "outbound-api": OUTBOUND, "outbound-dial": OUTBOUND,
}

DEFAULT_INTERNAL_NUMBER_PATTERN = r"^\d{2,6}$"
DEFAULT_OUTBOUND_CONTEXT_PATTERN = r"^(from-internal|outbound|outgoing|out-)"
# `"Alice Wang" <13812345678>` → the name; the number in it is `src` already.
_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')
# The endpoint of a channel name: "SIP/1001-0000001a", "PJSIP/1001-00000003", "Local/1001@from-queue-…".
_CHANNEL_ENDPOINT = re.compile(r"^[A-Za-z0-9_]+/(?P<endpoint>[^-@/;]+)")
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y/%m/%d %H:%M", "%d/%m/%Y %H:%M")


class CdrFormatError(ValueError):
    """The file (or the options) cannot be read at all: no row can be imported."""


@dataclass(frozen=True)
class CallRecord:
    """One call as the PBX recorded it, times in UTC."""

    line: int
    call_id: str
    direction: str  # inbound / outbound / internal
    from_raw: str
    to_raw: str
    caller_name: str
    agent_extension: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    # Talk time (Asterisk's billsec): 0 for a call nobody answered.
    duration_seconds: int
    disposition: str  # ANSWERED / NO ANSWER / BUSY / FAILED
    context: str = ""

    @property
    def is_answered(self) -> bool:
        return self.disposition == ANSWERED

    @property
    def customer_raw(self) -> str:
        """The other party's number as recorded: the caller of an inbound call, the callee of an outbound one."""
        return self.to_raw if self.direction == OUTBOUND else self.from_raw


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def as_dict(self) -> dict[str, int | str]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class CdrOptions:
    format: str = "asterisk"
    # An IANA name ("Asia/Shanghai"); "" → HELPDESK_PHONE_PBX_TIMEZONE, else TIME_ZONE.
    timezone: str = ""
    # None: detected from the first row.
    has_header: bool | None = None
    column_mapping: Mapping[str, str | int] = field(default_factory=dict)


def pbx_timezone(name: str = "") -> tzinfo:
    """The PBX's time zone by name (or the configured default); CdrFormatError when unknown."""
    name = (name or getattr(settings, "HELPDESK_PHONE_PBX_TIMEZONE", "") or settings.TIME_ZONE or "UTC").strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CdrFormatError(_("Unknown time zone “%(name)s”.") % {"name": name}) from None


@functools.lru_cache(maxsize=65536)
def _matches(pattern: str, value: str, flags: int = 0) -> bool:
    # A file repeats the same extensions and callers: each is matched once.
    return re.search(pattern, value.strip(), flags) is not None


def is_internal_number(raw: str) -> bool:
    """An extension (or anything HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN says is ours), not a phone number."""
    pattern = getattr(settings, "HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN", "") or DEFAULT_INTERNAL_NUMBER_PATTERN
    return bool(raw) and _matches(pattern, raw)


def call_direction(*, from_raw: str, to_raw: str, context: str = "") -> str:
    """inbound, outbound or internal by the rule in this module's docstring."""
    caller_internal, callee_internal = is_internal_number(from_raw), is_internal_number(to_raw)
    if caller_internal and callee_internal:
        return INTERNAL
    if callee_internal:
        return INBOUND
    if caller_internal:
        return OUTBOUND
    pattern = getattr(settings, "HELPDESK_PHONE_OUTBOUND_CONTEXT_PATTERN", "") or DEFAULT_OUTBOUND_CONTEXT_PATTERN
    return OUTBOUND if context and _matches(pattern, context, re.IGNORECASE) else INBOUND


# --- reading lines -------------------------------------------------------------------------------


def decoded_lines(stream: Iterable[bytes], errors: list[RowError]) -> Iterator[str]:
    """The stream's lines as text (UTF-8, else GB18030); a line that is neither is reported and
    replaced by an empty one, so line numbers stay those of the file."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                yield raw.decode("gb18030")
            except UnicodeDecodeError:
                errors.append(RowError(number, _("The line is neither UTF-8 nor GB18030 (GBK) text.")))
                yield "\n"


def count_rows(stream: Iterable[bytes]) -> int:
    """Non-empty lines of the file (the header included): the progress bar's total, read fast."""
    return sum(1 for raw in stream if raw.strip())


# --- values --------------------------------------------------------------------------------------


class _BadValue(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _time(value: str, column: str, zone: tzinfo, *, required: bool) -> datetime | None:
    text = value.strip()
    if not text or text.startswith("0000-00-00"):
        if required:
            raise _BadValue(_("%(column)s is empty.") % {"column": column})
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for time_format in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, time_format)  # noqa: DTZ007 - the PBX's zone is applied below
                break
            except ValueError:
                continue
    if parsed is None:
        raise _BadValue(
            _("%(column)s “%(value)s” is not a date and time (expected YYYY-MM-DD HH:MM:SS).")
            % {"column": column, "value": text[:40]}
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _seconds(value: str, column: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        seconds = int(float(text)) if "." in text else int(text)
    except ValueError:
        raise _BadValue(
            _("%(column)s “%(value)s” is not a number of seconds.") % {"column": column, "value": text[:40]}
        ) from None
    if seconds < 0:
        raise _BadValue(_("%(column)s is negative.") % {"column": column})
    return seconds


def _disposition(value: str) -> str:
    found = DISPOSITIONS.get(" ".join(value.strip().lower().split()))
    if found is None:
        raise _BadValue(
            _("Unknown disposition “%(value)s” (expected ANSWERED, NO ANSWER, BUSY or FAILED).")
            % {"value": value.strip()[:40]}
        )
    return found


def _caller_name(clid: str, number: str) -> str:
    match = _CLID.match(clid)
    name = (match.group("name") if match else clid).strip().strip('"').strip()
    # Many PBXs put the number itself where no name is known.
    return "" if not name or name == number.strip() or name.lower() in ("unknown", "anonymous") else name[:200]


def _endpoint(channel: str) -> str:
    match = _CHANNEL_ENDPOINT.match(channel.strip())
    return match.group("endpoint") if match else ""


# --- Asterisk ------------------------------------------------------------------------------------


def _looks_like_asterisk_header(cells: list[str]) -> bool:
    names = {cell.strip().lower() for cell in cells}
    return {"src", "dst", "uniqueid"} <= names


def _asterisk_record(line: int, row: Mapping[str, str], zone: tzinfo) -> CallRecord:
    call_id = row["uniqueid"].strip()
    if not call_id:
        raise _BadValue(_("The uniqueid is empty."))
    from_raw, to_raw, context = row["src"].strip(), row["dst"].strip(), row["dcontext"].strip()
    started_at = _time(row["start"], "start", zone, required=True)
    assert started_at is not None
    answered_at = _time(row["answer"], "answer", zone, required=False)
    ended_at = _time(row["end"], "end", zone, required=False)
    _seconds(row["duration"], "duration")
    billsec = _seconds(row["billsec"], "billsec") or 0
    disposition = _disposition(row["disposition"])
    direction = call_direction(from_raw=from_raw, to_raw=to_raw, context=context)
    if direction == OUTBOUND:
        extension = from_raw if is_internal_number(from_raw) else _endpoint(row["channel"])
    else:
        endpoint = _endpoint(row["dstchannel"])
        extension = endpoint if is_internal_number(endpoint) else (to_raw if is_internal_number(to_raw) else "")
    return CallRecord(
        line=line, call_id=call_id[:128], direction=direction, from_raw=from_raw[:64], to_raw=to_raw[:64],
        caller_name=_caller_name(row["clid"], from_raw) if direction != OUTBOUND else "",
        agent_extension=extension if is_internal_number(extension) else "", started_at=started_at,
        answered_at=answered_at if disposition == ANSWERED else None, ended_at=ended_at,
        duration_seconds=billsec if disposition == ANSWERED else 0, disposition=disposition, context=context,
    )


# --- generic CSV ---------------------------------------------------------------------------------


def _column_indexes(mapping: Mapping[str, str | int], header: list[str] | None) -> dict[str, int]:
    """Our field → the column's index, from a mapping by header name or by index."""
    unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
    if unknown:
        raise CdrFormatError(
            _("Unknown field “%(field)s” in the column mapping (known: %(known)s).")
            % {"field": unknown[0], "known": ", ".join(MAPPING_FIELDS)}
        )
    if not mapping:
        if header is None:
            raise CdrFormatError(_("A file without a header row needs a column mapping."))
        mapping = {name: name for name in MAPPING_FIELDS if name in {cell.strip().lower() for cell in header}}
    by_name = {cell.strip().lower(): index for index, cell in enumerate(header or [])}
    indexes: dict[str, int] = {}
    for field_name, column in mapping.items():
        if isinstance(column, int) or (isinstance(column, str) and column.strip().isdigit() and header is None):
            indexes[field_name] = int(column)
            continue
        if header is None:
            raise CdrFormatError(_("A file without a header row needs column numbers (0, 1, …) in the mapping."))
        index = by_name.get(str(column).strip().lower())
        if index is None:
            raise CdrFormatError(
                _("The file has no column “%(column)s” (mapped to %(field)s).") % {"column": column, "field": field_name}
            )
        indexes[field_name] = index
    missing = [name for name in REQUIRED_MAPPING_FIELDS if name not in indexes]
    if missing:
        raise CdrFormatError(
            _("The column mapping needs %(fields)s.") % {"fields": ", ".join(missing)}
        )
    return indexes


def _generic_record(line: int, cells: list[str], indexes: Mapping[str, int], zone: tzinfo) -> CallRecord:
    def cell(name: str) -> str:
        index = indexes.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    call_id = cell("call_id")
    if not call_id:
        raise _BadValue(_("The call id is empty."))
    from_raw, to_raw = cell("from"), cell("to")
    started_at = _time(cell("start"), "start", zone, required=True)
    assert started_at is not None
    answered_at = _time(cell("answer"), "answer", zone, required=False)
    ended_at = _time(cell("end"), "end", zone, required=False)
    duration = _seconds(cell("duration"), "duration")
    if "disposition" in indexes and cell("disposition"):
        disposition = _disposition(cell("disposition"))
    else:
        # Without a disposition a call counts as answered when it has an answer time or talk time.
        disposition = ANSWERED if answered_at is not None or duration else NO_ANSWER
    if duration is None:
        duration = int((ended_at - answered_at).total_seconds()) if answered_at and ended_at else 0
    direction_value = cell("direction").lower()
    if direction_value:
        direction = DIRECTIONS.get(direction_value)
        if direction is None:
            raise _BadValue(
                _("Unknown direction “%(value)s” (expected inbound or outbound).") % {"value": direction_value[:40]}
            )
    else:
        direction = call_direction(from_raw=from_raw, to_raw=to_raw)
    extension = cell("agent_extension") or (to_raw if direction == INBOUND else from_raw)
    return CallRecord(
        line=line, call_id=call_id[:128], direction=direction, from_raw=from_raw[:64], to_raw=to_raw[:64],
        caller_name=cell("caller_name")[:200], agent_extension=extension if is_internal_number(extension) else "",
        started_at=started_at, answered_at=answered_at if disposition == ANSWERED else None, ended_at=ended_at,
        duration_seconds=max(duration, 0) if disposition == ANSWERED else 0, disposition=disposition,
    )


# --- the rows ------------------------------------------------------------------------------------


def cdr_rows(stream: Iterable[bytes], *, options: CdrOptions) -> Iterator[CallRecord | RowError]:
    """Each data row of the file as a CallRecord, or a RowError saying why it cannot be imported.

    Raises CdrFormatError (before yielding anything) when the options or the header make the whole
    file unreadable: an unknown time zone or format, a mapping naming columns the file lacks.
    """
    if options.format not in ("asterisk", "csv"):
        raise CdrFormatError(_("Unknown format “%(format)s”.") % {"format": options.format})
    zone = pbx_timezone(options.timezone)
    decoding_errors: list[RowError] = []
    reader = csv.reader(decoded_lines(stream, decoding_errors))
    first: list[str] | None = None
    first_line = 0
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                first, first_line = cells, reader.line_num
                break
    except csv.Error as error:
        raise CdrFormatError(_("The first row cannot be read as CSV: %(error)s.") % {"error": error}) from None
    yield from decoding_errors
    decoding_errors.clear()
    if first is None:
        return
    if options.format == "asterisk":
        has_header = options.has_header if options.has_header is not None else _looks_like_asterisk_header(first)
        header = [cell.strip().lower() for cell in first] if has_header else list(ASTERISK_COLUMNS)
        if has_header:
            missing = [name for name in ASTERISK_COLUMNS if name not in header]
            if missing:
                raise CdrFormatError(
                    _("The header row lacks the Asterisk columns %(columns)s.") % {"columns": ", ".join(missing)}
                )
    else:
        mapping = options.column_mapping or {}
        if options.has_header is not None:
            has_header = options.has_header
        else:
            # Names in the mapping (or no mapping) mean the file names its columns in a header row.
            has_header = not mapping or any(not (isinstance(v, int) or str(v).strip().isdigit()) for v in mapping.values())
        indexes = _column_indexes(mapping, first if has_header else None)
        header = []
    pending = None if has_header else (first_line, first)
    rows = _rows_after(reader, pending)
    for line, cells in rows:
        yield from decoding_errors
        decoding_errors.clear()
        if isinstance(cells, RowError):
            yield cells
            continue
        try:
            if options.format == "asterisk":
                if len(cells) != len(header):
                    raise _BadValue(
                        _("Expected %(expected)d columns, found %(found)d.") % {"expected": len(header), "found": len(cells)}
                    )
                yield _asterisk_record(line, dict(zip(header, cells, strict=True)), zone)
            else:
                if len(cells) <= max(indexes.values()):
                    raise _BadValue(
                        _("Expected at least %(expected)d columns, found %(found)d.")
                        % {"expected": max(indexes.values()) + 1, "found": len(cells)}
                    )
                yield _generic_record(line, cells, indexes, zone)
        except _BadValue as bad:
            yield RowError(line, bad.reason)
    yield from decoding_errors


def _rows_after(
    reader: Iterator[list[str]], pending: tuple[int, list[str]] | None
) -> Iterator[tuple[int, list[str] | RowError]]:
    """(line number, cells) of the remaining non-empty rows, `pending` first; the line number is
    where the row starts in the file."""
    if pending is not None:
        yield pending
    previous_end = reader.line_num  # type: ignore[attr-defined]
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # A row the CSV reader cannot split (a field over the size limit…): reported, and the
            # reader goes on with the next line.
            previous_end = reader.line_num  # type: ignore[attr-defined]
            yield start, RowError(start, _("The row cannot be read as CSV: %(error)s.") % {"error": error})
            continue
        previous_end = reader.line_num  # type: ignore[attr-defined]
        if any(cell.strip() for cell in cells):
            yield start, cells
