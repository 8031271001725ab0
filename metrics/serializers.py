"""Shapes of the metrics API, for the OpenAPI schema only: the views return the selectors' dicts
as they are (metrics.selectors documents them); tests/metrics/test_api.py checks both agree."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from metrics.selectors import BACKLOG_AGE_BUCKETS, BREAKDOWN_DIMENSIONS, BREAKDOWN_FIELDS, SUMMARY_METRICS


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text=_("First reporting day of the period."))
    end = serializers.DateField(help_text=_("Last reporting day of the period (inclusive)."))
    previous_start = serializers.DateField()
    previous_end = serializers.DateField()
    time_zone = serializers.CharField(help_text=_("The time zone reporting days are counted in."))
    hours = serializers.ChoiceField(choices=["business", "calendar"])


class MetricValueSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True, help_text=_("The value over the previous period."))
    change = serializers.FloatField(
        allow_null=True,
        help_text=_("Against the previous period: relative for counts and times, the difference for ratios and "
                    "scores (see change_kind)."),
    )
    change_kind = serializers.ChoiceField(choices=["relative", "difference"])
    unit = serializers.ChoiceField(choices=["count", "seconds", "ratio", "score"])
    sample = serializers.IntegerField(help_text=_("How many tickets, answers or SLA targets the value is computed over."))


class BacklogAgeSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=list(BACKLOG_AGE_BUCKETS))
    count = serializers.IntegerField()


class BacklogValueSerializer(MetricValueSerializer):
    as_of = serializers.DateTimeField(help_text=_("The instant the backlog was counted at."))
    by_age = BacklogAgeSerializer(many=True)


SummaryMetricsSerializer = type(
    "SummaryMetricsSerializer", (serializers.Serializer,),
    {name: BacklogValueSerializer() if name == "backlog" else MetricValueSerializer() for name in SUMMARY_METRICS},
)


class SummarySerializer(serializers.Serializer):
    period = PeriodSerializer()
    metrics = SummaryMetricsSerializer()


class TimeseriesSeriesSerializer(serializers.Serializer):
    volume_by_channel = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()))
    solved = serializers.ListField(child=serializers.IntegerField())
    frt_median = serializers.ListField(child=serializers.FloatField(allow_null=True))
    resolution_median = serializers.ListField(child=serializers.FloatField(allow_null=True))
    csat = serializers.ListField(child=serializers.FloatField(allow_null=True))
    nps = serializers.ListField(child=serializers.FloatField(allow_null=True))
    ces = serializers.ListField(child=serializers.FloatField(allow_null=True))
    backlog = serializers.ListField(child=serializers.IntegerField())


class TimeseriesSerializer(serializers.Serializer):
    period = PeriodSerializer()
    days = serializers.ListField(child=serializers.DateField())
    series = TimeseriesSeriesSerializer()


_COUNT_FIELDS = {"volume", "solved", "first_replied", "sla_due", "csat_count", "nps_count", "ces_count"}

BreakdownRowSerializer = type(
    "BreakdownRowSerializer", (serializers.Serializer,),
    {
        "key": serializers.JSONField(
            allow_null=True,
            help_text=_("The team, agent or organization id, or the channel or priority code; null for none."),
        ),
        "label": serializers.CharField(),
        **{name: serializers.IntegerField() if name in _COUNT_FIELDS else serializers.FloatField(allow_null=True)
           for name in BREAKDOWN_FIELDS},
    },
)


class BreakdownSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=list(BREAKDOWN_DIMENSIONS))
    period = PeriodSerializer()
    results = BreakdownRowSerializer(many=True)
