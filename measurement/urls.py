from django.urls import path, re_path

from measurement import views

app_name = "measurement"

urlpatterns = [
    path("events/<str:token>/", views.events_view, name="events"),
    # Without the trailing slash too: a POST is never redirected.
    re_path(r"^events/(?P<token>[^/]+)$", views.events_view),
]
