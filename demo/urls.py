"""The demo's endpoints (the CDP, the ad platforms' daily rows); marketingai/urls.py includes them
only when MARKETINGAI_DEMO_CDP is on (the demo platforms are routed from demo/platforms/urls.py)."""

from django.urls import path

from demo.ad_performance import daily_rows_view
from demo.cdp import recipients_view

urlpatterns = [
    path(
        "demo-cdp/segments/<slug:segment_slug>/recipients.json",
        recipients_view,
        name="demo_cdp_recipients",
    ),
    path("demo-ads/<slug:workflow_slug>/daily.json", daily_rows_view, name="demo_ads_daily"),
]
