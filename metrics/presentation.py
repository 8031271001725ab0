"""How metric figures are shown to people: the headline cards, humanised durations, percentages
and the change against the previous period. Shared by the dashboards and the weekly report mail so
a figure reads the same everywhere; the numbers themselves come from metrics.selectors.

Call these inside the reader's language (a request, or `translation.override` for a mail).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Which way is good for each figure: True when lower is better (times, reopens, backlog), False when
# higher is better, None when neither (volume is work arriving, not a result).
LOWER_IS_BETTER: dict[str, bool | None] = {
    "frt_median": True, "frt_mean": True, "frt_p90": True,
    "resolution_median": True, "resolution_mean": True, "resolution_p90": True,
    "reopen_rate": True, "backlog": True,
    "fcr_rate": False, "csat": False, "nps": False, "sla_compliance": False, "solved": False,
    # CES asks how easy the customer found it (1 = very hard … 7 = very easy), so higher is better.
    "ces": False,
    "volume": None,
}


@dataclass(frozen=True)
class Headline:
    name: str  # the key in metrics_summary()["metrics"]
    label: Any
    drilldown: str | None  # the metrics_drilldown metric behind the figure; None: answers, not tickets
    help_text: Any


HEADLINES: tuple[Headline, ...] = (
    Headline("frt_median", gettext_lazy("First response time (median)"), "frt",
             gettext_lazy("Median time to the first public agent reply")),
    Headline("resolution_median", gettext_lazy("Resolution time (median)"), "resolution",
             gettext_lazy("Median time from creation to the first solve")),
    Headline("fcr_rate", gettext_lazy("First contact resolution"), "fcr",
             gettext_lazy("Solved tickets solved with one public reply and never reopened")),
    Headline("reopen_rate", gettext_lazy("Reopen rate"), "reopened",
             gettext_lazy("Solved tickets reopened at least once")),
    Headline("csat", gettext_lazy("CSAT"), "csat", gettext_lazy("Satisfaction answers of 4 or 5 out of 5")),
    Headline("nps", gettext_lazy("NPS"), "nps", gettext_lazy("Promoters minus detractors")),
    Headline("ces", gettext_lazy("CES"), "ces", gettext_lazy("Mean customer effort answer, 1 to 7")),
    Headline("sla_compliance", gettext_lazy("SLA compliance"), "sla",
             gettext_lazy("SLA targets due in the period that were met")),
    Headline("backlog", gettext_lazy("Backlog"), "backlog", gettext_lazy("Tickets not solved or closed now")),
    Headline("volume", gettext_lazy("Volume"), "volume", gettext_lazy("Tickets created in the period")),
)
# The agent dashboard also shows what the agent solved.
SOLVED = Headline("solved", gettext_lazy("Solved"), "solved", gettext_lazy("Tickets first solved in the period"))
HEADLINES_BY_NAME = {headline.name: headline for headline in (*HEADLINES, SOLVED)}

NO_VALUE = "—"


def duration_words() -> dict[str, str]:
    """The translated duration formats, also handed to the charts' script (json_script)."""
    return {
        "seconds": _("%(seconds)s s"),
        "minutes": _("%(minutes)s min"),
        "hours": _("%(hours)s h %(minutes)s min"),
        "days": _("%(days)s d %(hours)s h"),
    }


def duration_text(seconds: float | None, *, words: dict[str, str] | None = None) -> str:
    """"45 s", "12 min", "2 h 14 min", "3 d 4 h" (static/js/metrics/dashboard.js writes the same)."""
    if seconds is None:
        return NO_VALUE
    words = words or duration_words()
    total = int(round(seconds))
    if total < 60:
        return words["seconds"] % {"seconds": total}
    minutes = total // 60
    if minutes < 60:
        return words["minutes"] % {"minutes": minutes}
    if minutes < 24 * 60:
        return words["hours"] % {"hours": minutes // 60, "minutes": minutes % 60}
    return words["days"] % {"days": minutes // (24 * 60), "hours": minutes % (24 * 60) // 60}


def _number(value: float, decimals: int) -> str:
    return formats.number_format(round(value, decimals), decimal_pos=decimals, use_l10n=True, force_grouping=True)


def value_text(value: float | int | None, unit: str, *, name: str = "") -> str:
    """A figure as people read it: a duration, a percentage, a score or a count."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_VALUE
    if unit == "seconds":
        return duration_text(value)
    if unit == "ratio":
        return f"{_number(value * 100, 1)}%"
    if unit == "score":
        # NPS is a whole number of points (−100…100); CES a mean on 1–7.
        return _number(value, 0 if name == "nps" else 1)
    return _number(value, 0)


def change_of(name: str, value: float | int | None, previous: float | int | None, unit: str) -> dict[str, Any] | None:
    """The change against the previous period: its direction, whether that is good, and its text.

    Computed from the two values rather than the summary's `change`, so the text says what it
    compares: percentage points for ratios, points for scores, a relative change for times and counts.
    """
    if value is None or previous is None:
        return None
    difference = float(value) - float(previous)
    if unit == "ratio":
        amount = _("%(points)s pp") % {"points": _number(abs(difference) * 100, 1)}
    elif unit == "score":
        amount = _number(abs(difference), 0 if name == "nps" else 1)
    elif previous:
        amount = f"{_number(abs(difference) / abs(float(previous)) * 100, 0)}%"
    else:
        # From nothing: no relative change to give, so the plain difference.
        amount = duration_text(abs(difference)) if unit == "seconds" else _number(abs(difference), 0)
    direction = "flat" if abs(difference) < 1e-9 else "up" if difference > 0 else "down"
    lower_is_better = LOWER_IS_BETTER.get(name)
    if direction == "flat" or lower_is_better is None:
        tone = "neutral"
    else:
        tone = "good" if (direction == "down") == lower_is_better else "bad"
    arrows = {"up": "▲", "down": "▼", "flat": "="}
    return {
        "direction": direction,
        "tone": tone,
        "text": f"{arrows[direction]} {amount}",
        "previous_text": value_text(previous, unit, name=name),
    }


def headline_cards(summary: dict[str, Any], *, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The figures `names` (default: the manager's headlines) of a metrics_summary(), for display."""
    metrics = summary.get("metrics", {})
    cards = []
    for headline in (HEADLINES if names is None else [HEADLINES_BY_NAME[name] for name in names]):
        figure = metrics.get(headline.name) or {}
        unit = figure.get("unit", "count")
        value, previous = figure.get("value"), figure.get("previous")
        cards.append({
            "name": headline.name,
            "label": headline.label,
            "help_text": headline.help_text,
            "drilldown": headline.drilldown,
            "value": value,
            "text": value_text(value, unit, name=headline.name),
            "change": change_of(headline.name, value, previous, unit),
            "sample": figure.get("sample"),
        })
    return cards
