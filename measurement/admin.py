"""Admin for campaign measurement: events and imports (read-only), event webhooks, the file
import page, and the campaign metrics section of the prompt version page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from evals.statistics import wilson_interval
from measurement import selectors
from measurement.importing import KNOWN_COLUMNS
from measurement.models import CampaignEvent, EventIngest, EventWebhook
from measurement.services import events_import
from workflows import admin_extensions, charts, secrets
from workflows.admin import ReadOnlyAdminMixin
from workflows.admin_history import GuardedHistoryAdmin
from workflows.import_errors import count_errors
from workflows.models import PromptVersion
from workflows.uploads import FORMAT_CHOICES, validate_upload_size

IMPORT_PERMISSION = "measurement.import_events"
CONFIDENCE = 0.95


# --- Event webhooks ---------------------------------------------------------------------------


class EventWebhookForm(forms.ModelForm):
    """The verification key is picked from the secrets the operator named, never typed in."""

    verification_key_name = forms.ChoiceField(
        label="Verification key secret",
        help_text=EventWebhook._meta.get_field("verification_key_name").help_text,
    )

    class Meta:
        model = EventWebhook
        fields = ("name", "kind", "source", "verification_key_name", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = secrets.names()
        choices = [(name, name) for name in names]
        current = (self.initial.get("verification_key_name") or "").strip()
        if current and current not in names:
            choices.append((current, f"{current} (not a configured secret: pick another)"))
        self.fields["verification_key_name"].choices = [("", "---------"), *choices]


@admin.register(EventWebhook)
class EventWebhookAdmin(GuardedHistoryAdmin):
    form = EventWebhookForm
    list_display = ("name", "kind", "source", "enabled", "url")
    list_filter = ("kind", "enabled")
    readonly_fields = ("url", "created_at")

    @admin.display(description="URL to give the platform")
    def url(self, obj):
        if not obj.pk:
            return "Shown once saved."
        return format_html("<code>{}</code>", obj.get_absolute_url())


# --- Imports ----------------------------------------------------------------------------------


class ImportEventsForm(forms.Form):
    file = forms.FileField(
        help_text=(
            f"CSV with the columns {', '.join(KNOWN_COLUMNS)} (email optional, used only to "
            "suppress an unsubscribe or complaint), or JSON: a list of event objects. UTF-8. "
            "A file with any bad row imports nothing; events already stored are skipped."
        ),
        validators=[validate_upload_size],
    )
    source = forms.SlugField(
        max_length=40,
        initial="import",
        help_text="Where the events come from (e.g. crm): event ids are unique per source.",
    )
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto", required=False)


@admin.register(EventIngest)
class EventIngestAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = (
        "received_at",
        "channel",
        "source",
        "source_name",
        "status",
        "stored_count",
        "duplicate_count",
        "unattributed_count",
        "refused_count",
        "received_by",
    )
    list_filter = ("channel", "status", "source")
    list_select_related = ("received_by",)
    search_fields = ("source_name",)
    change_list_template = "admin/measurement/eventingest/change_list.html"

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="measurement_eventingest_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        posted = request.method == "POST"
        form = ImportEventsForm(request.POST, request.FILES) if posted else ImportEventsForm()
        rejected = None
        if posted and form.is_valid():
            upload = form.cleaned_data["file"]
            chosen = form.cleaned_data.get("format")
            record = events_import(
                data=upload,
                filename=upload.name,
                source=form.cleaned_data["source"],
                by=request.user,
                format=None if chosen in (None, "", "auto") else chosen,
            )
            if record.status == EventIngest.Status.IMPORTED:
                self.message_user(
                    request,
                    f"Imported {record.stored_count} events from {upload.name}: "
                    f"{record.duplicate_count} already stored, "
                    f"{record.unattributed_count} unattributed.",
                    messages.SUCCESS,
                )
                return redirect("admin:measurement_eventingest_changelist")
            rejected = record
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import campaign events",
            "form": form,
            "rejected": rejected,
            "error_count": count_errors(rejected.errors) if rejected else 0,
        }
        return TemplateResponse(request, "admin/measurement/eventingest/import.html", context)


# --- Events -----------------------------------------------------------------------------------


class AttributedFilter(admin.SimpleListFilter):
    title = "attributed"
    parameter_name = "attributed"

    def lookups(self, request, model_admin):
        return (("yes", "To a run variant"), ("no", "Unattributed (unknown key or variant)"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(run_variant__isnull=False)
        if self.value() == "no":
            return queryset.filter(run_variant__isnull=True)
        return queryset


class SourceFilter(admin.SimpleListFilter):
    """The sources named by the imports: a small table, not a scan of every event."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = EventIngest.objects.order_by("source").values_list("source", flat=True)
        return [(source, source) for source in sources.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(CampaignEvent)
class CampaignEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "kind",
        "source",
        "event_id",
        "run",
        "variant_key",
        "recipient",
        "attributed",
    )
    list_filter = ("kind", SourceFilter, AttributedFilter)
    list_select_related = ("run",)
    search_fields = ("=event_id", "=recipient", "=attempt_key")
    # Counting a million rows on every page is the slow part of a changelist.
    show_full_result_count = False
    readonly_fields = (
        "ingest",
        "source",
        "event_id",
        "kind",
        "occurred_at",
        "received_at",
        "run",
        "run_variant",
        "prompt_version",
        "recipient",
        "attempt_key",
        "variant_key",
        "extra",
    )
    raw_id_fields = ("ingest", "run", "run_variant", "prompt_version")

    @admin.display(boolean=True, description="Attributed")
    def attributed(self, obj):
        return obj.run_variant_id is not None


# --- The prompt version page: business metrics over time ------------------------------------

RATES = (
    ("Click rate (clicked / delivered)", "clicked"),
    ("Unsubscribe rate", "unsubscribed"),
    ("Conversion rate", "converted"),
)


def metrics_chart(daily: list[tuple], *, confidence: float = CONFIDENCE) -> str:
    """Cumulative rates to each day (people over people delivered), each with its Wilson band."""
    running = {name: 0 for name in ("delivered", *(kind for _, kind in RATES))}
    points: dict[str, list] = {kind: [] for _, kind in RATES}
    bands: dict[str, list] = {kind: [] for _, kind in RATES}
    for day, totals in daily:
        for name in running:
            running[name] += getattr(totals, name)
        delivered = running["delivered"]
        if not delivered:
            continue
        for _, kind in RATES:
            people = min(running[kind], delivered)
            low, high = wilson_interval(people, delivered, confidence)
            points[kind].append((day, people / delivered))
            bands[kind].append((day, low, high))
    series = [
        charts.Series(label=label, points=points[kind], band=bands[kind]) for label, kind in RATES
    ]
    return charts.line_chart(
        series,
        title="Campaign metrics to date, with 95 % intervals",
        y_label="share of people delivered",
        y_min=0,
        y_format=lambda value: f"{value:.1%}",
    )


@admin.display(description="Campaign metrics")
def campaign_metrics(obj):
    if obj is None or not obj.pk:
        return "-"
    daily = selectors.version_daily_totals(prompt_version_id=obj.pk)
    if not daily:
        return "No campaign events counted for runs of this version yet."
    total = selectors.Totals(
        **{
            name: sum(getattr(totals, name) for _, totals in daily)
            for name in selectors.Totals.__dataclass_fields__
        }
    )
    events_url = reverse("admin:measurement_campaignevent_changelist")
    summary = format_html(
        "<p>People: {} delivered, {} opened, {} clicked, {} unsubscribed, {} complained, "
        '{} converted. <a href="{}?prompt_version__id__exact={}">Events</a></p>',
        total.delivered,
        total.opened,
        total.clicked,
        total.unsubscribed,
        total.complained,
        total.converted,
        events_url,
        obj.pk,
    )
    return summary + mark_safe(metrics_chart(daily))


admin_extensions.register_section(
    PromptVersion,
    title="Campaign metrics",
    fields=(campaign_metrics,),
    order=60,
    description="Unique people per run variant, from the events counted so far; "
    "rates are to date over people delivered.",
)
