"""REST API of macros: the macros the caller may use, and applying one to a ticket."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import permissions
from tickets.apis import common
from tickets.apis.serializers import ErrorSerializer, TeamRefSerializer, results_of
from tickets.macros import selectors
from tickets.macros.services import macro_apply_for_composer
from tickets.models import Macro

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A field change the macro makes is not allowed or not valid."),
    403: OpenApiResponse(ErrorSerializer, description="Only support staff use macros."),
    404: OpenApiResponse(ErrorSerializer, description="No such macro or ticket, or not one you may use."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit reached; see Retry-After."),
}
MACRO_ID_PARAMETER = OpenApiParameter("macro_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The macro's id.")
NUMBER_PARAMETER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH,
                                    description="The ticket number.")


class MacroTranslationSerializer(serializers.Serializer):
    language = serializers.CharField(read_only=True, help_text="Language code, e.g. zh-hans.")
    title = serializers.CharField(read_only=True)
    reply_text = serializers.CharField(read_only=True)


class MacroActionSerializer(serializers.Serializer):
    type = serializers.CharField(read_only=True, help_text="set_status, set_priority, set_type, set_team, assign, "
                                                           "add_tags, remove_tags or set_custom_field.")
    value = serializers.JSONField(read_only=True, help_text="A choice value, an id as text, or a list of tags.")
    key = serializers.CharField(read_only=True, required=False, help_text="The custom field (set_custom_field).")


class MacroSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    sharing = serializers.ChoiceField(choices=["personal", "team", "everyone"], read_only=True,
                                      help_text="personal: only you; team: the team below; everyone: all staff.")
    team = TeamRefSerializer(read_only=True, allow_null=True)
    reply_text = serializers.CharField(read_only=True, help_text="With placeholders such as {{ ticket.number }}.")
    reply_is_internal = serializers.BooleanField(read_only=True)
    actions = MacroActionSerializer(many=True, read_only=True)
    translations = MacroTranslationSerializer(many=True, read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    usage_count = serializers.IntegerField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class MacroTicketRefSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    status = serializers.CharField(read_only=True)


class MacroApplicationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True, help_text="The macro's id.")
    title = serializers.CharField(read_only=True, help_text="In the requester's language when translated.")
    body = serializers.CharField(read_only=True, help_text="The reply rendered for this ticket (plain text), "
                                                           "in the requester's language when translated. Not sent: "
                                                           "post it as a message if you want it sent.")
    is_internal = serializers.BooleanField(read_only=True, help_text="Whether the reply is meant as an internal note.")
    language = serializers.CharField(read_only=True, help_text="The translation used; empty for the default text.")
    actions = serializers.ListField(child=serializers.CharField(), read_only=True,
                                    help_text="The macro's field actions in words.")
    changes = serializers.ListField(child=serializers.CharField(), read_only=True,
                                    help_text="What applying changed, in words.")
    ticket = MacroTicketRefSerializer(read_only=True)


def macro_data(macro: Macro) -> dict[str, object]:
    return {
        "id": macro.pk,
        "title": macro.title,
        "sharing": selectors.sharing_of(macro),
        "team": {"id": macro.team.pk, "name": macro.team.name, "slug": macro.team.slug} if macro.team else None,
        "reply_text": macro.reply_text,
        "reply_is_internal": macro.reply_is_internal,
        "actions": macro.actions,
        "translations": [{"language": item.language, "title": item.title, "reply_text": item.reply_text}
                         for item in macro.translations.all()],
        "is_active": macro.is_active,
        "usage_count": macro.usage_count,
        "last_used_at": macro.last_used_at.isoformat() if macro.last_used_at else None,
    }


class MacroListApi(APIView):
    permission_classes = [*APIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="macros_list",
        summary="Macros you may use",
        description="Your personal macros, the macros shared with your teams and those shared with everyone "
                    "(managers and admins: every shared macro), most used first. Staff only.",
        responses={200: results_of(MacroSerializer, "MacroList"), **ERRORS},
        tags=["macros"],
    )
    def get(self, request: Request) -> Response:
        macros = (selectors.macros_visible_to(common.acting_user(request)).select_related("team")
                  .prefetch_related("translations").order_by("-is_active", "-usage_count", "title", "id"))
        return Response({"results": [macro_data(macro) for macro in macros]})


class MacroDetailApi(APIView):
    permission_classes = [*APIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="macros_retrieve",
        summary="A macro",
        parameters=[MACRO_ID_PARAMETER],
        responses={200: MacroSerializer, **ERRORS},
        tags=["macros"],
    )
    def get(self, request: Request, macro_id: int) -> Response:
        return Response(macro_data(selectors.access_macro(common.acting_user(request), macro_id)))


class TicketMacroApplyApi(APIView):
    permission_classes = [*APIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="tickets_macro_apply",
        summary="Apply a macro to a ticket",
        description="Applies the macro's field changes to the ticket now (as you, with your role's permissions; "
                    "all or nothing) and returns its reply rendered for this ticket, for you to review and send "
                    "as a message. Counts as a use of the macro.",
        parameters=[NUMBER_PARAMETER, MACRO_ID_PARAMETER],
        request=None,
        responses={200: MacroApplicationSerializer, **ERRORS},
        tags=["macros"],
    )
    def post(self, request: Request, number: int, macro_id: int) -> Response:
        user = common.acting_user(request)
        ticket = permissions.access_ticket_by_number(user, number)
        macro = selectors.access_macro(user, macro_id)
        ticket, rendered, changes = macro_apply_for_composer(macro=macro, ticket=ticket, actor=user,
                                                             via=common.VIA_API)
        return Response({
            "id": rendered.macro_id, "title": rendered.title, "body": rendered.body_text,
            "is_internal": rendered.is_internal, "language": rendered.language, "actions": rendered.actions,
            "changes": changes, "ticket": {"number": ticket.number, "status": ticket.status},
        })
