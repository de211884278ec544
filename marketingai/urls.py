from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from inputs.demo_cdp import demo_cdp_urls

admin.site.site_header = "marketingai"
admin.site.site_title = "marketingai"
admin.site.index_title = "Workflows, runs and reviews"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    *demo_cdp_urls,
]
