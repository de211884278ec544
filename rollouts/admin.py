"""Admin for rollouts: the list, the page with its report, chart and stage log, a page per move
(each gated by its permission, a reason required), and the run page's side-by-side section."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from rollouts import decision, reporting, services
from rollouts.models import (
    DEFAULT_RAMP_STEPS,
    OPEN_STAGES,
    PairPreference,
    Rollout,
    RolloutMove,
    RolloutNotice,
    RolloutStage,
)
from workflows import admin_extensions
from workflows.admin import ReadOnlyAdminMixin, pretty_json
from workflows.admin_history import GuardedHistoryAdmin
from workflows.admin_output import output_html
from workflows.models import PromptVersion, Run, Workflow

FORM_TEMPLATE = "admin/rollouts/form_page.html"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.2f}"


# --- The moves ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    name: str
    label: str
    permission: str
    needs_reason: bool = True


def allowed_moves(rollout: Rollout, user) -> list[Move]:
    """The moves the table allows from the rollout's stage that ``user`` may make."""
    moves = []
    manage = services.MANAGE_PERMISSION
    if rollout.status in OPEN_STAGES and rollout.status != RolloutStage.PAUSED:
        try:
            stage, share = decision.next_stage(
                stage=rollout.status,
                share=float(rollout.share),
                audience_share=float(rollout.audience_share),
                steps=rollout.ramp_steps,
            )
        except ValueError:
            pass
        else:
            at = f" at {decision.percent(share)}" if stage in decision.LIVE_STAGES else ""
            label = f"Advance to {RolloutStage(stage).label.lower()}{at}"
            moves.append(Move("advance", label, manage))
        moves.append(Move("pause", "Pause", manage))
    if rollout.status == RolloutStage.PAUSED:
        moves.append(Move("resume", "Resume", manage))
    if rollout.status in OPEN_STAGES:
        moves.append(Move("abandon", "Abandon", manage))
    last_step = decision.ramp_shares(rollout.ramp_steps)[-1]
    waiting = rollout.promotion_request_id and rollout.promotion_request.status == "requested"
    if rollout.status == RolloutStage.RAMP and float(rollout.share) >= last_step and not waiting:
        moves.append(
            Move("request_promotion", "Request promotion", "evals.request_promotion", False)
        )
    if rollout.status == RolloutStage.RAMP and waiting:
        moves.append(Move("promote", "Approve promotion", "evals.approve_promotion", False))
    return [m for m in moves if user.has_perm(m.permission)]


MOVE_SERVICES = {
    "advance": lambda r, u, text: services.rollout_advance(rollout=r, by=u, reason=text),
    "pause": lambda r, u, text: services.rollout_pause(rollout=r, by=u, reason=text),
    "resume": lambda r, u, text: services.rollout_resume(rollout=r, by=u, reason=text),
    "abandon": lambda r, u, text: services.rollout_abandon(rollout=r, by=u, reason=text),
    "request_promotion": lambda r, u, text: services.rollout_request_promotion(
        rollout=r, by=u, note=text
    ),
    "promote": lambda r, u, text: services.rollout_promote(rollout=r, by=u, note=text),
}


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True)

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        if not required:
            self.fields["reason"].label = "Note"


class RolloutStartForm(forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.order_by("slug"))
    candidate = forms.ModelChoiceField(
        queryset=PromptVersion.objects.filter(status="approved").select_related("template"),
        help_text="An approved version of the workflow's prompt, not the one in production.",
    )
    audience_share = forms.DecimalField(
        initial="0.10", min_value=0.0001, max_value=0.5, decimal_places=4
    )
    ramp_steps = forms.CharField(
        initial=", ".join(DEFAULT_RAMP_STEPS),
        help_text="Shares during controlled production, rising, ending at 1.",
    )
    planned_sends = forms.IntegerField(initial=20000, min_value=100)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), strip=True)

    def clean_ramp_steps(self):
        steps = [s.strip() for s in self.cleaned_data["ramp_steps"].split(",") if s.strip()]
        try:
            decision.ramp_shares(steps)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return steps


# --- The rollout pages ----------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RolloutMoveInline(ReadOnlyInline):
    model = RolloutMove
    verbose_name = "stage change"
    verbose_name_plural = "stage log"
    fields = ("at", "from_stage", "to_stage", "share_after", "moved_by_label", "reason", "figures")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("moved_by")

    @admin.display(description="By")
    def moved_by_label(self, obj):
        return obj.mover_label

    @admin.display(description="Statistic")
    def figures(self, obj):
        return pretty_json(obj.statistic) if obj.statistic else ""


class RolloutNoticeInline(ReadOnlyInline):
    model = RolloutNotice
    verbose_name = "notice"
    verbose_name_plural = "notices"
    fields = ("created_at", "outcome", "subject", "recipients", "error")
    readonly_fields = fields


@admin.register(Rollout)
class RolloutAdmin(GuardedHistoryAdmin):
    list_display = (
        "__str__",
        "workflow",
        "candidate",
        "baseline",
        "status",
        "share_shown",
        "owner",
        "created_at",
    )
    list_filter = ("status", "workflow")
    list_select_related = (
        "workflow",
        "candidate__template",
        "baseline__template",
        "owner",
    )
    search_fields = ("workflow__slug", "candidate__template__slug")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("workflow", "status", "share_shown"),
                    ("candidate", "baseline"),
                    ("audience_share", "ramp_steps", "planned_sends"),
                    ("owner", "created_at", "finished_at"),
                    "promotion_request",
                )
            },
        ),
        ("Decision", {"fields": ("decision_view",)}),
        ("Statistics", {"fields": ("statistics_view",)}),
        ("Charts", {"fields": ("charts_view",)}),
        ("Checks and preferences", {"fields": ("checks_view", "preferences_view")}),
    )
    readonly_fields = (
        "workflow",
        "status",
        "share_shown",
        "candidate",
        "baseline",
        "audience_share",
        "ramp_steps",
        "planned_sends",
        "owner",
        "created_at",
        "finished_at",
        "promotion_request",
        "decision_view",
        "statistics_view",
        "charts_view",
        "checks_view",
        "preferences_view",
    )
    inlines = (RolloutMoveInline, RolloutNoticeInline)
    change_form_template = "admin/rollouts/rollout/change_form.html"

    def has_add_permission(self, request):
        return request.user.has_perm(services.MANAGE_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False  # every change is a move (its own page and service)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "workflow__production_version", "candidate__template", "baseline__template", "owner"
            )
        )

    @admin.display(description="Candidate share", ordering="share")
    def share_shown(self, obj):
        return obj.share_percent

    # The report is built once per page view (a fixed number of queries).
    def _report(self, obj) -> reporting.Report:
        cached = getattr(obj, "_report", None)
        if cached is None:
            cached = obj._report = reporting.rollout_report(obj)
        return cached

    @admin.display(description="Decision")
    def decision_view(self, obj):
        return self._report(obj).assessment.sentence

    @admin.display(description="Business metrics (the live stage)")
    def statistics_view(self, obj):
        report = self._report(obj)
        candidate, production = report.counts
        level = decision.percent(report.confidence)
        rows = [
            (
                row.label,
                _rate(row.candidate_rate),
                _rate(row.production_rate),
                _points(row.difference),
                f"{_points(row.interval[0])} to {_points(row.interval[1])}"
                if row.interval
                else "–",
                f"{row.margin * 100:.2f}",
                row.verdict.replace("_", " "),
                "–" if row.sends_needed is None else f"{row.sends_needed:,}",
            )
            for row in report.assessment.rows
        ]
        return format_html(
            "<p>Sends: candidate {}, production {}. Intervals: Newcombe, ends are one-sided "
            "bounds at {} confidence.</p><table><tr><th>Metric</th><th>Candidate</th>"
            "<th>Production</th><th>Difference (points)</th><th>Interval</th><th>Margin</th>"
            "<th>Verdict</th><th>More sends per arm</th></tr>{}</table>",
            f"{candidate.sends:,}",
            f"{production.sends:,}",
            level,
            format_html_join("", "<tr>" + "<td>{}</td>" * 8 + "</tr>", rows),
        )

    @admin.display(description="Charts")
    def charts_view(self, obj):
        report = self._report(obj)
        return mark_safe(report.share_chart + report.guardrail_chart)  # noqa: S308 - escaped by workflows.charts

    @admin.display(description="Pass rates per check (evaluated outputs)")
    def checks_view(self, obj):
        checks = self._report(obj).checks
        if not checks:
            return "No evaluated outputs yet."
        rows = [
            (
                c.check,
                f"{_rate(c.rate('candidate'))} of {c.total['candidate']}",
                f"{_rate(c.rate('production'))} of {c.total['production']}",
            )
            for c in checks
        ]
        return format_html(
            "<table><tr><th>Check</th><th>Candidate</th><th>Production</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="Pairwise preference")
    def preferences_view(self, obj):
        counts = self._report(obj).preferences
        rows = [
            (label, counts[key]["candidate"], counts[key]["production"], counts[key]["tie"])
            for key, label in PairPreference.Chooser.choices
        ]
        return format_html(
            "<table><tr><th>Who</th><th>Prefer candidate</th><th>Prefer production</th>"
            "<th>Tie</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rollout = self.get_object(request, object_id)
        moves = allowed_moves(rollout, request.user) if rollout is not None else []
        extra_context = {**(extra_context or {}), "rollout_moves": moves}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/move/<str:move>/",
                self.admin_site.admin_view(self.move_view),
                name="rollouts_rollout_move",
            )
        ]
        return own + super().get_urls()

    def _page(self, request, *, title, original=None, intro=(), form=None, buttons=()):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "original": original,
            "intro": intro,
            "form": form,
            "buttons": buttons,
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RolloutStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                rollout = services.rollout_start(
                    workflow=data["workflow"],
                    candidate=data["candidate"],
                    by=request.user,
                    reason=data["reason"],
                    audience_share=data["audience_share"],
                    ramp_steps=data["ramp_steps"],
                    planned_sends=data["planned_sends"],
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                self.message_user(request, f"{rollout} started.", messages.SUCCESS)
                return redirect("admin:rollouts_rollout_change", rollout.pk)
        return self._page(
            request,
            title="Start a rollout",
            intro=[
                "The rollout starts in offline evals; it moves on once the candidate's latest "
                "eval suite against production says promote."
            ],
            form=form,
            buttons=[("_start", "Start")],
        )

    def move_view(self, request, object_id, move):
        rollout = self.get_object(request, object_id)
        if rollout is None:
            return redirect("admin:rollouts_rollout_changelist")
        chosen = next((m for m in allowed_moves(rollout, request.user) if m.name == move), None)
        if chosen is None:
            if move in MOVE_SERVICES and not request.user.has_perm(services.MANAGE_PERMISSION):
                raise PermissionDenied
            self.message_user(
                request,
                f"{rollout} is {rollout.get_status_display().lower()}: it cannot {move.replace('_', ' ')} now.",
                messages.WARNING,
            )
            return redirect("admin:rollouts_rollout_change", rollout.pk)
        form = ReasonForm(request.POST or None, required=chosen.needs_reason)
        if request.method == "POST" and form.is_valid():
            try:
                MOVE_SERVICES[move](rollout, request.user, form.cleaned_data["reason"])
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request, f"{rollout}: {chosen.label.lower()} done.", messages.SUCCESS
                )
                return redirect("admin:rollouts_rollout_change", rollout.pk)
        return self._page(
            request,
            title=f"{chosen.label}: {rollout}",
            original=rollout,
            intro=[
                f"Now {rollout.get_status_display().lower()} at {rollout.share_percent}.",
                "Runs started from now on follow the new stage; runs already started keep theirs.",
            ],
            form=form,
            buttons=[("_move", chosen.label)],
        )


@admin.register(PairPreference)
class PairPreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "candidate_run",
        "rollout",
        "chooser",
        "reviewer",
        "pick",
        "preferred",
        "created_at",
    )
    list_filter = ("chooser", "pick")
    list_select_related = (
        "candidate_run",
        "rollout__workflow",
        "rollout__candidate__template",
        "reviewer",
    )


# --- The run page: side by side -------------------------------------------------------------------


def _checks_html(run: Run):
    rows = [
        (check, verdict)
        for evaluation in run.evaluations.all()
        for check, verdict in evaluation.results().items()
    ]
    if not rows:
        return "No evals yet."
    return format_html(
        "<table>{}</table>", format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows)
    )


def _side(run: Run):
    output = run.output
    if output is None:
        return format_html("<p>{} ({}): no output yet.</p>", run.run_id, run.get_status_display())
    return format_html("{}<h4>Checks</h4>{}", output_html(run, output), _checks_html(run))


@admin.display(description="Rollout")
def rollout_side_by_side(obj):
    if not obj.rollout:
        return "Not part of a rollout."
    arm = obj.rollout
    link = reverse("admin:rollouts_rollout_change", args=[arm.get("rollout_id")])
    head = format_html(
        '<p>The {} arm of <a href="{}">rollout {}</a>, started in its {} stage.</p>',
        arm.get("arm"),
        link,
        arm.get("rollout_id"),
        str(arm.get("stage", "")).replace("_", " "),
    )
    pair = services.companion_pair(obj)
    if pair is None:
        return head
    production, candidate = pair
    label = services.candidate_shown_as(candidate.pk)
    a, b = (candidate, production) if label == "A" else (production, candidate)
    judge = PairPreference.objects.filter(
        candidate_run=candidate, chooser=PairPreference.Chooser.JUDGE
    ).first()
    pick_url = reverse("admin:workflows_run_rollout_pick", args=[candidate.pk])
    return format_html(
        "{}<p>Side by side, blind: which run is A and which is B is fixed per pair. {} "
        '<a href="{}">Pick A, B or tie</a>.</p><table class="mai-side-by-side"><tr><th>A</th><th>B</th></tr>'
        '<tr><td style="vertical-align:top">{}</td><td style="vertical-align:top">{}</td></tr></table>',
        head,
        f"The judge preferred {judge.pick}." if judge else "The judge has not compared them yet.",
        pick_url,
        _side(a),
        _side(b),
    )


class PickForm(forms.Form):
    pick = forms.ChoiceField(choices=PairPreference.Pick.choices, widget=forms.RadioSelect)


def pick_view(model_admin, request, object_id):
    run = get_object_or_404(Run, pk=object_id)
    if not request.user.has_perm(services.PICK_PERMISSION):
        raise PermissionDenied
    form = PickForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.rollout_pick_pair(
                candidate_run=run, by=request.user, pick=form.cleaned_data["pick"]
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            model_admin.message_user(request, "Your pick is recorded.", messages.SUCCESS)
            return redirect("admin:workflows_run_change", run.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Run._meta,
        "title": f"Which output is better? ({run.run_id})",
        "original": run,
        "intro": ["Compare A and B on the run page, then pick one, or a tie."],
        "form": form,
        "buttons": [("_pick", "Record my pick")],
    }
    return TemplateResponse(request, FORM_TEMPLATE, context)


admin_extensions.register_section(Run, title="Rollout", fields=(rollout_side_by_side,), order=45)
admin_extensions.register_admin_url(
    Run, route="<path:object_id>/rollout-pick/", view=pick_view, name="workflows_run_rollout_pick"
)
