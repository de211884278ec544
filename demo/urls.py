"""The demo's endpoints; marketingai/urls.py includes them only when MARKETINGAI_DEMO_CDP is on."""

from django.urls import path

from demo.cdp import recipients_view

urlpatterns = [
    path(
        "demo-cdp/segments/<slug:segment_slug>/recipients.json",
        recipients_view,
        name="demo_cdp_recipients",
    ),
]
