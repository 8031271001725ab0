"""Customer health: a daily snapshot of each active customer's and organization's score, for the
trend on their pages (the formula lives in tickets.customers.health)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Customer, Organization


class HealthSnapshot(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="health_snapshots",
        verbose_name=_("customer"),
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="health_snapshots",
        verbose_name=_("organization"),
    )
    day = models.DateField(_("day"))
    score = models.PositiveSmallIntegerField(_("health score"))
    # The formula's inputs and each component's points, so the page can explain the score.
    components = models.JSONField(_("components"), default=dict)

    class Meta:
        verbose_name = _("health snapshot")
        verbose_name_plural = _("health snapshots")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="health_customer_day_unique",
                                    condition=models.Q(customer__isnull=False)),
            models.UniqueConstraint(fields=["organization", "day"], name="health_org_day_unique",
                                    condition=models.Q(organization__isnull=False)),
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False, organization__isnull=True)
                | models.Q(customer__isnull=True, organization__isnull=False),
                name="health_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id or self.organization_id} {self.day}: {self.score}"
