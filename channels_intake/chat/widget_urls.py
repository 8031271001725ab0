"""The chat widget's public addresses, mounted at the site root: the script customers embed
(/chat/widget.js, an address that must never change), the visitor's signed file links
(/chat/files/<signed>/) and the demo host page (/demo/widget/)."""

from django.urls import path

from channels_intake.chat import widget_views

app_name = "chat_widget"
urlpatterns = [
    path("chat/widget.js", widget_views.widget_script, name="script"),
    path("chat/files/<str:token>/", widget_views.chat_file, name="file"),
    path("demo/widget/", widget_views.demo_host, name="demo"),
]
