"""Reading call-detail records (channels_intake.phone.cdr): both Asterisk header styles, a mapped
generic CSV, encodings, the PBX's time zone, the direction rule, and bad rows with their line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels_intake.phone.cdr import (
    ANSWERED,
    BUSY,
    FAILED,
    INBOUND,
    INTERNAL,
    NO_ANSWER,
    OUTBOUND,
    CallRecord,
    CdrFormatError,
    CdrOptions,
    RowError,
    call_direction,
    cdr_rows,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "phone"
GENERIC_MAPPING = {
    "call_id": "Call ID", "from": "Caller", "to": "Callee", "start": "Start time", "answer": "Answered",
    "end": "Ended", "duration": "Talk seconds", "disposition": "Result", "caller_name": "Name",
    "agent_extension": "Extension", "direction": "Direction",
}


def read(name: str, **options: object) -> list[CallRecord | RowError]:
    with (FIXTURES / name).open("rb") as stream:
        return list(cdr_rows(stream, options=CdrOptions(**options)))  # type: ignore[arg-type]


def records(rows: list[CallRecord | RowError]) -> list[CallRecord]:
    return [row for row in rows if isinstance(row, CallRecord)]


def errors(rows: list[CallRecord | RowError]) -> list[RowError]:
    return [row for row in rows if isinstance(row, RowError)]


def test_asterisk_file_with_header_reads_good_rows_and_reports_bad_ones_by_line():
    rows = read("master_header.csv", timezone="Asia/Shanghai")

    assert [record.call_id for record in records(rows)] == [
        "1764465302.1", "1764465600.3", "1764468000.5", "1764471600.7", "1764473400.9", "1764465302.1",
        "1764478800.15",
    ]
    assert [(error.line, error.reason) for error in errors(rows)] == [
        (7, "Expected 18 columns, found 10."),
        (8, "start “30.11.2026 12:00” is not a date and time (expected YYYY-MM-DD HH:MM:SS)."),
        (9, "The uniqueid is empty."),
    ]


def test_answered_inbound_call_keeps_caller_name_extension_talk_time_and_utc_times():
    first = records(read("master_header.csv", timezone="Asia/Shanghai"))[0]

    assert first.line == 2
    assert (first.direction, first.disposition, first.is_answered) == (INBOUND, ANSWERED, True)
    assert (first.from_raw, first.to_raw, first.caller_name, first.agent_extension) == (
        "13812345678", "1001", "Alice Wang", "1001"
    )
    # 09:15:02 in Shanghai (UTC+8) is 01:15:02 UTC.
    assert first.started_at == datetime(2026, 11, 30, 1, 15, 2, tzinfo=UTC)
    assert first.answered_at == datetime(2026, 11, 30, 1, 15, 7, tzinfo=UTC)
    assert first.ended_at == datetime(2026, 11, 30, 1, 19, 7, tzinfo=UTC)
    assert first.duration_seconds == 240  # billsec, not the ringing included in duration


def test_pbx_timezone_changes_the_stored_utc_time():
    in_utc = records(read("master_header.csv", timezone="UTC"))[0]
    in_new_york = records(read("master_header.csv", timezone="America/New_York"))[0]

    assert in_utc.started_at == datetime(2026, 11, 30, 9, 15, 2, tzinfo=UTC)
    assert in_new_york.started_at == datetime(2026, 11, 30, 14, 15, 2, tzinfo=UTC)  # EST, UTC-5


def test_default_timezone_comes_from_the_setting(settings):
    settings.HELPDESK_PHONE_PBX_TIMEZONE = "Asia/Tokyo"

    first = records(read("master_header.csv"))[0]

    assert first.started_at == datetime(2026, 11, 30, 0, 15, 2, tzinfo=UTC)


def test_unknown_timezone_is_refused_before_any_row():
    with pytest.raises(CdrFormatError, match="Unknown time zone “Mars/Olympus”"):
        read("master_header.csv", timezone="Mars/Olympus")


def test_missed_busy_failed_outbound_and_internal_calls_are_told_apart():
    by_id = {record.call_id: record for record in records(read("master_header.csv", timezone="UTC"))}

    assert (by_id["1764465600.3"].disposition, by_id["1764465600.3"].answered_at) == (NO_ANSWER, None)
    assert by_id["1764465600.3"].duration_seconds == 0
    assert by_id["1764468000.5"].disposition == BUSY
    assert by_id["1764478800.15"].disposition == FAILED
    # The caller id held only the number: no name was known.
    assert by_id["1764478800.15"].caller_name == ""
    outbound = by_id["1764471600.7"]
    assert (outbound.direction, outbound.agent_extension, outbound.customer_raw) == (OUTBOUND, "1001", "13700001111")
    assert by_id["1764473400.9"].direction == INTERNAL


def test_headerless_gbk_file_is_detected_and_chinese_names_decoded():
    rows = read("master_headerless_gbk.csv", timezone="Asia/Shanghai")

    assert errors(rows) == []
    assert [(record.line, record.caller_name) for record in records(rows)] == [
        (1, "张伟"), (2, "李娜"), (3, "王芳（北京）")
    ]
    assert records(rows)[0].started_at == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def test_forcing_a_header_on_a_headerless_file_says_which_columns_are_missing():
    with pytest.raises(CdrFormatError, match="lacks the Asterisk columns"):
        read("master_headerless_gbk.csv", has_header=True)


def test_utf8_and_gbk_lines_mixed_in_one_file_both_read():
    utf8_line = (FIXTURES / "master_headerless_gbk.csv").read_bytes().decode("gbk").splitlines()[0]
    gbk_line = (FIXTURES / "master_headerless_gbk.csv").read_bytes().splitlines()[1]
    data = b"\xef\xbb\xbf" + utf8_line.encode("utf-8") + b"\n" + gbk_line + b"\n"

    rows = list(cdr_rows(io.BytesIO(data), options=CdrOptions(timezone="UTC")))

    assert [record.caller_name for record in records(rows)] == ["张伟", "李娜"]


def test_generic_csv_with_mapping_by_header_name():
    rows = read("generic_calls.csv", format="csv", timezone="Asia/Shanghai", column_mapping=GENERIC_MAPPING)

    good = records(rows)
    assert [record.call_id for record in good] == ["c-1001", "c-1002", "c-1003"]
    assert (good[0].direction, good[0].disposition, good[0].caller_name, good[0].agent_extension) == (
        INBOUND, ANSWERED, "Alice Wang", "1001"
    )
    assert good[0].started_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert good[1].disposition == NO_ANSWER
    # A time with its own offset keeps it, whatever the PBX zone.
    assert (good[2].direction, good[2].started_at) == (OUTBOUND, datetime(2026, 11, 30, 0, 20, tzinfo=UTC))
    assert [(error.line, error.reason) for error in errors(rows)] == [
        (5, "start “yesterday” is not a date and time (expected YYYY-MM-DD HH:MM:SS)."),
        (6, "Unknown disposition “voicemail-ish” (expected ANSWERED, NO ANSWER, BUSY or FAILED)."),
    ]


def test_generic_csv_by_column_numbers_without_header_and_without_disposition():
    data = b"x1,13812345678,1001,2026-11-30 10:00:00,2026-11-30 10:00:03,2026-11-30 10:01:03\n" \
           b"x2,13912345678,1001,2026-11-30 10:05:00,,2026-11-30 10:05:20\n"
    mapping = {"call_id": 0, "from": 1, "to": 2, "start": 3, "answer": 4, "end": 5}

    good = list(cdr_rows(io.BytesIO(data), options=CdrOptions(format="csv", timezone="UTC", column_mapping=mapping)))

    assert [(r.call_id, r.direction, r.disposition, r.duration_seconds) for r in good] == [  # type: ignore[union-attr]
        ("x1", INBOUND, ANSWERED, 60), ("x2", INBOUND, NO_ANSWER, 0),
    ]


def test_generic_csv_mapping_naming_a_missing_column_fails_the_file():
    with pytest.raises(CdrFormatError, match="The file has no column “Caller number”"):
        read("generic_calls.csv", format="csv", column_mapping={**GENERIC_MAPPING, "from": "Caller number"})
    with pytest.raises(CdrFormatError, match="The column mapping needs to"):
        read("generic_calls.csv", format="csv", column_mapping={"call_id": "Call ID", "from": "Caller",
                                                                  "start": "Start time"})


def test_direction_rule_by_extension_pattern_and_dialplan_context(settings):
    assert call_direction(from_raw="13812345678", to_raw="1001") == INBOUND
    assert call_direction(from_raw="1001", to_raw="13812345678") == OUTBOUND
    assert call_direction(from_raw="1001", to_raw="1002") == INTERNAL
    # Both outside numbers: the callee is one of our DIDs, unless the context says an agent dialled.
    assert call_direction(from_raw="13812345678", to_raw="02161234567", context="from-pstn") == INBOUND
    assert call_direction(from_raw="02161234567", to_raw="13812345678", context="from-internal") == OUTBOUND
    # A PBX with 8-digit extensions says so in the setting.
    settings.HELPDESK_PHONE_INTERNAL_NUMBER_PATTERN = r"^8\d{7}$"
    assert call_direction(from_raw="13812345678", to_raw="80001001") == INBOUND
    assert call_direction(from_raw="13812345678", to_raw="1001", context="from-pstn") == INBOUND  # both outside



def test_a_row_the_csv_reader_cannot_split_is_reported_and_the_next_rows_read():
    good = (FIXTURES / "master_headerless_gbk.csv").read_bytes().decode("gbk").splitlines()
    data = "\n".join([good[0], '"' + "x" * 200_000 + '",1', good[1]]).encode() + b"\n"

    rows = list(cdr_rows(io.BytesIO(data), options=CdrOptions(timezone="UTC")))

    assert [record.line for record in records(rows)] == [1, 3]
    assert [(error.line, error.reason) for error in errors(rows)] == [
        (2, "The row cannot be read as CSV: field larger than field limit (131072).")
    ]
