from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "marketingai"
admin.site.site_title = "marketingai"
admin.site.index_title = "Workflows, runs and reviews"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    # Event triggers' signed webhooks (public: each URL carries an unguessable token).
    path("triggers/", include("triggers.urls")),
    # Email platforms' event webhooks (public: each URL carries an unguessable token).
    path("measurement/", include("measurement.urls")),
]
if settings.MARKETINGAI_DEMO_CDP:
    # The demo CDP endpoint serves made-up recipients: routed only while the demo is on.
    urlpatterns.append(path("", include("demo.urls")))
if settings.MARKETINGAI_DEMO_PLATFORMS:
    # The demo's email platform, chat and CMS take in what the demo publishes (the Outbox).
    urlpatterns.append(path("demo-platforms/", include("demo.platforms.urls")))
