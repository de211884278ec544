"""Admin for triggers: their own pages (saved through the services, so each schedule trigger's
django-q2 Schedule follows), the read-only log of firings, and a Triggers section on the
workflow page (through ``workflows.admin_extensions``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_q.models import Schedule

from triggers import services
from triggers.models import Trigger, TriggerFiring
from workflows import admin_extensions, secrets
from workflows.admin import ReadOnlyAdminMixin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.models import CampaignBrief, Workflow

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def _when(value) -> str:
    return timezone.localtime(value).strftime(TIME_FORMAT) if value else "-"


def _outcome(firing_outcome: str | None, at) -> str:
    if not firing_outcome:
        return "never fired"
    label = TriggerFiring.Outcome(firing_outcome).label
    failing = firing_outcome in (TriggerFiring.Outcome.FAILED, TriggerFiring.Outcome.REFUSED)
    if failing:
        return format_html(
            '<strong class="mai-trigger-failing" style="color: var(--error-fg)">{}</strong> {}',
            label,
            _when(at),
        )
    return format_html('<span class="mai-trigger-ok">{}</span> {}', label, _when(at))


def with_firing_and_schedule(queryset):
    """Annotate the latest firing and the Schedule's next run: lists stay one query."""
    latest = TriggerFiring.objects.filter(trigger=OuterRef("pk")).order_by("-fired_at", "-pk")
    schedule = Schedule.objects.filter(
        func=services.SCHEDULE_TASK, args=Cast(OuterRef("pk"), CharField())
    ).order_by("pk")
    return queryset.annotate(
        last_outcome=Subquery(latest.values("outcome")[:1]),
        last_fired_at=Subquery(latest.values("fired_at")[:1]),
        next_run_at=Subquery(schedule.values("next_run")[:1]),
    )


class TriggerForm(forms.ModelForm):
    """The signing secret is picked from the secrets the operator named, never typed in."""

    secret_name = forms.ChoiceField(
        label="Signing secret",
        required=False,
        help_text=Trigger._meta.get_field("secret_name").help_text,
    )

    class Meta:
        model = Trigger
        fields = (
            "workflow",
            "name",
            "kind",
            "enabled",
            "brief",
            "cron",
            "time_zone",
            "missed_runs",
            "secret_name",
            "payload_schema",
            "input_mapping",
            "source",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Pick a configured secret")] + [(n, n) for n in secrets.names()]
        current = (self.initial.get("secret_name") or "").strip()
        if current and current not in secrets.names():
            choices.append((current, f"{current} (not a configured secret: pick another)"))
        self.fields["secret_name"].choices = choices
        briefs = CampaignBrief.objects.select_related("workflow").order_by("-created_at")
        if self.instance.workflow_id:
            briefs = briefs.filter(workflow_id=self.instance.workflow_id)
        self.fields["brief"].queryset = briefs


class LatestFiringFilter(admin.SimpleListFilter):
    title = "latest firing"
    parameter_name = "latest_firing"

    def lookups(self, request, model_admin):
        return [
            ("failing", "Failed or refused"),
            ("started", "Started a run"),
            ("skipped", "Skipped"),
            ("never", "Never fired"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "failing":
            return queryset.filter(last_outcome__in=["failed", "refused"])
        if value == "never":
            return queryset.filter(last_outcome__isnull=True)
        if value in ("started", "skipped"):
            return queryset.filter(last_outcome=value)
        return queryset


@admin.register(Trigger)
class TriggerAdmin(GuardedHistoryAdmin):
    form = TriggerForm
    list_display = (
        "name",
        "workflow",
        "kind",
        "fires_on",
        "enabled",
        "next_run",
        "latest_firing",
    )
    list_filter = ("kind", "enabled", LatestFiringFilter, "workflow")
    search_fields = ("name", "workflow__slug", "source")
    list_select_related = ("workflow",)
    readonly_fields = ("schedule_in_words", "next_run", "event_url", "recent_firings")
    fieldsets = (
        (None, {"fields": ("workflow", "name", "kind", "enabled", "brief")}),
        (
            "Schedule",
            {
                "fields": ("cron", "time_zone", "missed_runs", "schedule_in_words", "next_run"),
                "description": "Runs at the cron's times in its time zone, through django-q2.",
            },
        ),
        (
            "Event (signed webhook)",
            {
                "fields": ("event_url", "secret_name", "payload_schema", "input_mapping"),
                "description": "POST a JSON payload signed the Standard Webhooks way "
                "(docs/triggers.md).",
            },
        ),
        ("New data", {"fields": ("source",)}),
        ("Firings", {"fields": ("recent_firings",)}),
    )

    def get_queryset(self, request):
        return with_firing_and_schedule(super().get_queryset(request))

    def save_model(self, request, obj, form, change):
        services.trigger_save(
            trigger=obj,
            by=request.user,
            reason=f"{'Changed' if change else 'Added'} in the admin by {request.user}",
        )

    def delete_model(self, request, obj):
        services.trigger_delete(trigger=obj, by=request.user, reason=f"Deleted by {request.user}")

    def delete_queryset(self, request, queryset):
        for trigger in queryset:
            self.delete_model(request, trigger)

    @admin.display(description="Fires on")
    def fires_on(self, obj):
        return obj.summary()

    @admin.display(description="In words")
    def schedule_in_words(self, obj):
        return obj.schedule_words if obj and obj.pk and obj.is_schedule else "-"

    @admin.display(description="Next run", ordering="next_run_at")
    def next_run(self, obj):
        if obj is None or not obj.pk or not obj.is_schedule:
            return "-"
        at = getattr(obj, "next_run_at", None)
        if at is None:
            return "no schedule" if not obj.enabled else "missing: run sync_trigger_schedules"
        return (
            f"{_when(at)} ({timezone.localtime(at, timezone=_zone(obj)):%a %H:%M} {obj.time_zone})"
        )

    @admin.display(description="Latest firing", ordering="last_fired_at")
    def latest_firing(self, obj):
        return _outcome(getattr(obj, "last_outcome", None), getattr(obj, "last_fired_at", None))

    @admin.display(description="Webhook URL")
    def event_url(self, obj):
        if obj is None or not obj.pk or not obj.is_event:
            return "-"
        return format_html("<code>{}</code>", obj.event_url)

    @admin.display(description="Latest firings")
    def recent_firings(self, obj):
        if obj is None or not obj.pk:
            return "-"
        firings = list(obj.firings.select_related("run")[:10])
        if not firings:
            return "It has not fired yet."
        rows = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:triggers_triggerfiring_change", args=[f.pk]),
                    _when(f.fired_at),
                    _outcome(f.outcome, None),
                    f.key or "-",
                    f.run.run_id if f.run_id else "-",
                    f.reason,
                )
                for f in firings
            ),
        )
        link = reverse("admin:triggers_triggerfiring_changelist") + f"?trigger__id__exact={obj.pk}"
        return format_html(
            "<table><tr><th>When</th><th>Outcome</th><th>Key</th><th>Run</th><th>Why</th></tr>{}</table>"
            "<p><a href='{}'>All firings</a></p>",
            rows,
            link,
        )


def _zone(trigger):
    from zoneinfo import ZoneInfo

    return ZoneInfo(trigger.time_zone)


@admin.register(TriggerFiring)
class TriggerFiringAdmin(ReadOnlyAdminMixin, GuardedHistoryAdmin):
    list_display = ("fired_at", "trigger", "workflow", "outcome", "key", "run", "reason")
    list_filter = ("outcome", "trigger__kind", "trigger__workflow", "trigger")
    search_fields = ("key", "reason", "trigger__name")
    list_select_related = ("trigger__workflow", "run")
    fields = ("trigger", "fired_at", "outcome", "key", "reason", "run", "details_json")
    readonly_fields = fields

    @admin.display(description="Workflow", ordering="trigger__workflow__slug")
    def workflow(self, obj):
        return obj.trigger.workflow.slug

    @admin.display(description="Details")
    def details_json(self, obj):
        return pretty_json(obj.details)


# --- The workflow page -----------------------------------------------------------------------


@admin.display(description="Triggers")
def triggers_view(obj):
    add = reverse("admin:triggers_trigger_add") + f"?workflow={obj.pk}" if obj and obj.pk else ""
    triggers = list(
        with_firing_and_schedule(Trigger.objects.filter(workflow=obj)) if obj and obj.pk else []
    )
    if not triggers:
        return format_html("No triggers: runs start by hand. <a href='{}'>Add a trigger</a>", add)
    rows = format_html_join(
        "",
        "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                reverse("admin:triggers_trigger_change", args=[t.pk]),
                t.name,
                t.get_kind_display(),
                t.summary(),
                "on" if t.enabled else "off",
                _when(t.next_run_at) if t.is_schedule else "-",
                _outcome(t.last_outcome, t.last_fired_at),
            )
            for t in triggers
        ),
    )
    return format_html(
        "<table><tr><th>Trigger</th><th>Kind</th><th>Fires on</th><th>Enabled</th>"
        "<th>Next run</th><th>Latest firing</th></tr>{}</table><p><a href='{}'>Add a trigger</a></p>",
        rows,
        add,
    )


admin_extensions.register_section(Workflow, title="Triggers", fields=(triggers_view,), order=45)
