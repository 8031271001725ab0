"""Survey pages customers reach without signing in: one-click ratings, comments, opt-out; and the
portal's rating of a solved request (signed in)."""

from django.urls import path

from metrics import survey_views

app_name = "metrics_survey"

urlpatterns = [
    path("opt-out/<str:token>/", survey_views.survey_opt_out, name="opt_out"),
    path("requests/<int:number>/rating/", survey_views.portal_rate, name="portal_rate"),
    path("<str:token>/", survey_views.survey_feedback, name="feedback"),
    path("<str:token>/<int:score>/", survey_views.survey_rate, name="rate"),
]
