"""What each endpoint reads and writes. Input serializers check shape only; the services decide."""

from __future__ import annotations

from rest_framework import serializers

from approvals.models import Decision
from evals.models import EvalSuiteRun
from measurement.models import CampaignEvent, EventKind


class RunStartIn(serializers.Serializer):
    workflow = serializers.SlugField(help_text="The workflow's slug.")
    brief = serializers.IntegerField(min_value=1, help_text="The id of one of its campaign briefs.")
    fresh_sample = serializers.BooleanField(
        default=False, help_text="Ignore the cache of identical generations (costs tokens)."
    )


class LinksOut(serializers.Serializer):
    self = serializers.URLField()


class RunLinksOut(LinksOut):
    trace = serializers.URLField()
    admin = serializers.URLField()


class RunOut(serializers.Serializer):
    id = serializers.IntegerField()
    run_id = serializers.CharField()
    trace_id = serializers.CharField()
    status = serializers.CharField()
    in_progress = serializers.BooleanField()
    workflow = serializers.CharField(help_text="The workflow's slug.")
    brief = serializers.IntegerField()
    prompt_version = serializers.CharField()
    model = serializers.CharField()
    risk_level = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    links = RunLinksOut()


class TraceOut(serializers.Serializer):
    run = serializers.IntegerField()
    trace_id = serializers.CharField()
    updated_at = serializers.DateTimeField()
    document = serializers.JSONField(help_text="The run's trace, redacted, as the admin shows it.")


class ModelParametersOut(serializers.Serializer):
    name = serializers.CharField()
    temperature = serializers.FloatField()
    max_tokens = serializers.IntegerField()


class ProductionPromptOut(serializers.Serializer):
    workflow = serializers.CharField()
    version = serializers.CharField(help_text="The version label, template:vN.")
    version_number = serializers.IntegerField()
    status = serializers.CharField()
    approved_at = serializers.DateTimeField(allow_null=True)
    system_prompt = serializers.CharField()
    user_template = serializers.CharField()
    output_schema = serializers.JSONField()
    model = ModelParametersOut()
    content_hash = serializers.CharField(help_text="sha256 of the content; the ETag.")


class QueueItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField()
    run_id = serializers.CharField()
    workflow = serializers.CharField()
    prompt_version = serializers.CharField()
    team = serializers.CharField(help_text="The team's slug.")
    risk_level = serializers.CharField(allow_blank=True)
    routing_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    links = serializers.DictField(child=serializers.URLField())


class ReviewQueueOut(serializers.Serializer):
    count = serializers.IntegerField()
    items = QueueItemOut(many=True)


class DecisionIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.Kind.choices)
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required unless approving."
    )
    escalate_to = serializers.SlugField(
        required=False, allow_blank=True, default="", help_text="A team's slug, to escalate."
    )

    def validate(self, attrs):
        # The decision model's own declarations: which kinds need a note, which a team.
        kind = Decision.Kind(attrs["decision"])
        if kind in Decision.NOTE_REQUIRED and not attrs["note"].strip():
            raise serializers.ValidationError(
                {"note": [f"A note is required to {kind.label.lower()}."]}
            )
        if kind == Decision.Kind.ESCALATE and not attrs["escalate_to"]:
            raise serializers.ValidationError({"escalate_to": ["Choose the team to escalate to."]})
        return attrs


class DecisionOut(serializers.Serializer):
    item = serializers.IntegerField()
    decision = serializers.CharField()
    reviewer = serializers.CharField()
    decided_at = serializers.DateTimeField()
    run = RunOut()
    revision_run = serializers.IntegerField(allow_null=True)
    escalated_item = serializers.IntegerField(allow_null=True)


class SuiteStartIn(serializers.Serializer):
    workflow = serializers.SlugField()
    candidate = serializers.IntegerField(
        min_value=1, help_text="The candidate prompt version's id."
    )
    baseline = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Default: production."
    )
    dataset = serializers.SlugField(required=False, allow_blank=True, help_text="Default: newest.")
    concurrency = serializers.IntegerField(
        min_value=1, max_value=EvalSuiteRun.MAX_CONCURRENCY, default=4
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=EvalSuiteRun.MAX_SEED, required=False, allow_null=True
    )


class SuiteOut(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    status = serializers.CharField()
    in_progress = serializers.BooleanField()
    workflow = serializers.CharField()
    candidate = serializers.CharField()
    baseline = serializers.CharField()
    dataset = serializers.CharField()
    progress_done = serializers.IntegerField()
    progress_total = serializers.IntegerField()
    decision = serializers.CharField(allow_blank=True)
    decision_reasons = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_blank=True)
    report = serializers.JSONField(
        allow_null=True, help_text="The suite report (evals.services.suite_report) once finished."
    )
    links = LinksOut()


def _max_length(field: str) -> int:
    return CampaignEvent._meta.get_field(field).max_length


class CampaignEventIn(serializers.Serializer):
    event_id = serializers.CharField(max_length=_max_length("event_id"))
    kind = serializers.ChoiceField(choices=EventKind.choices)
    occurred_at = serializers.DateTimeField(
        help_text="ISO 8601; without an offset it is read in the server's time zone."
    )
    key = serializers.CharField(
        max_length=_max_length("attempt_key"),
        required=False,
        allow_blank=True,
        default="",
        help_text="The publish key the email carried (marketingai_key).",
    )
    variant = serializers.CharField(
        max_length=_max_length("variant_key"),
        required=False,
        allow_blank=True,
        default="",
        help_text="The run variant's key (marketingai_variant).",
    )
    recipient = serializers.CharField(
        max_length=_max_length("recipient"), required=False, allow_blank=True, default=""
    )
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Only to suppress an unsubscribe or a complaint; never stored.",
    )


class CampaignEventsIn(serializers.Serializer):
    MAX_EVENTS = 5000

    source = serializers.SlugField(
        max_length=_max_length("source"), help_text="Who reports the events: sendgrid, crm, ..."
    )
    events = CampaignEventIn(many=True, allow_empty=False, max_length=MAX_EVENTS)


class CampaignEventsOut(serializers.Serializer):
    ingest = serializers.IntegerField(help_text="The ingest record (admin: Event ingests).")
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    unattributed = serializers.IntegerField()
    refused = serializers.ListField(child=serializers.CharField())


class ErrorOut(serializers.Serializer):
    error = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(required=False)
    retry_after = serializers.FloatField(required=False)
