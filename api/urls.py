from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import views

app_name = "api"

urlpatterns = [
    # The schema and its docs page describe the API and hold no data: served without a token.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("v1/runs/", views.RunListView.as_view(), name="run-list"),
    path("v1/runs/<int:pk>/", views.RunDetailView.as_view(), name="run-detail"),
    path("v1/runs/<int:pk>/trace/", views.RunTraceView.as_view(), name="run-trace"),
    path(
        "v1/workflows/<slug:slug>/production-prompt/",
        views.ProductionPromptView.as_view(),
        name="workflow-production-prompt",
    ),
    path("v1/review-queue/", views.ReviewQueueView.as_view(), name="review-queue"),
    path(
        "v1/approval-items/<int:pk>/decision/",
        views.DecisionView.as_view(),
        name="approval-item-decision",
    ),
    path("v1/eval-suites/", views.EvalSuiteListView.as_view(), name="eval-suite-list"),
    path("v1/eval-suites/<int:pk>/", views.EvalSuiteDetailView.as_view(), name="eval-suite-detail"),
    path("v1/campaign-events/", views.CampaignEventsView.as_view(), name="campaign-events"),
]
