"""The demo CDP endpoint; marketingai/urls.py includes it only when MARKETINGAI_DEMO_CDP is on
(the demo platforms are routed from demo/platforms/urls.py)."""

from django.urls import path

from demo.cdp import recipients_view

urlpatterns = [
    path(
        "demo-cdp/segments/<slug:segment_slug>/recipients.json",
        recipients_view,
        name="demo_cdp_recipients",
    ),
]
