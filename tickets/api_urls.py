"""REST API v1, mounted under /api/v1/ (OpenAPI at /api/schema/, docs at /api/docs/)."""

from django.urls import include, path

from tickets.apis import attachments, auth, custom_fields, messages, people, tags, tickets

app_name = "api"
urlpatterns = [
    path("auth/token/", auth.TokenObtainApi.as_view(), name="auth-token"),
    path("tickets/", tickets.TicketListCreateApi.as_view(), name="tickets"),
    path("tickets/<int:number>/", tickets.TicketDetailApi.as_view(), name="ticket"),
    path("tickets/<int:number>/messages/", messages.TicketMessagesApi.as_view(), name="ticket-messages"),
    path("tickets/<int:number>/merge/", tickets.TicketMergeApi.as_view(), name="ticket-merge"),
    path("attachments/<int:attachment_id>/", attachments.AttachmentDownloadApi.as_view(), name="attachment"),
    path("customers/", people.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<int:pk>/", people.CustomerDetailApi.as_view(), name="customer"),
    path("organizations/", people.OrganizationListApi.as_view(), name="organizations"),
    path("organizations/<int:pk>/", people.OrganizationDetailApi.as_view(), name="organization"),
    path("teams/", people.TeamListApi.as_view(), name="teams"),
    path("teams/<int:pk>/", people.TeamDetailApi.as_view(), name="team"),
    path("users/", people.StaffUserListApi.as_view(), name="users"),
    path("users/<int:pk>/", people.StaffUserDetailApi.as_view(), name="user"),
    path("tags/", tags.TagListApi.as_view(), name="tags"),
    path("custom-fields/", custom_fields.CustomFieldListApi.as_view(), name="custom-fields"),
    # Issue 9's areas (their names live in the "api" namespace too, so each module declares none).
    path("", include("tickets.rules.api_urls")),
    path("", include("tickets.macros.api_urls")),
    path("", include("tickets.collaboration.api_urls")),
    path("", include("tickets.customers.api_urls")),
]
