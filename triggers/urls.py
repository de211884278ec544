from django.urls import path, re_path

from triggers import views

app_name = "triggers"

urlpatterns = [
    path("events/<str:token>/", views.event_view, name="event"),
    # Without the trailing slash too: a POST is never redirected.
    re_path(r"^events/(?P<token>[^/]+)$", views.event_view),
]
