from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from django.db.models import CharField, TextField
        from django.db.models.functions import Upper

        # `subject__upper__contains` renders UPPER(subject) LIKE …, matching the trigram indexes.
        CharField.register_lookup(Upper)
        TextField.register_lookup(Upper)
