"""The REST API: thin views that parse, call the service the admin calls, and render.

Each view names the permissions its methods need (api.permissions); the services hold every
other rule (separation of duties, gates, lifecycles) exactly as for the admin.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.exceptions import refused
from approvals import services as approval_services
from approvals.models import ApprovalItem, Decision, ReviewTeam
from evals import services as eval_services
from evals.models import EvalDataset, EvalSuiteRun
from measurement import services as measurement_services
from workflows import services as workflow_services
from workflows.models import CampaignBrief, PromptVersion, Run, Trace, Workflow

ERRORS = {
    code: OpenApiResponse(s.ErrorOut, description=text)
    for code, text in (
        (400, "The request is malformed (fields)."),
        (401, "No usable token (missing, unknown, expired or revoked)."),
        (403, "The token's user may not do this."),
        (404, "No such object."),
        (409, "The service refused it in the current state."),
        (429, "Throttled: retry after retry_after seconds."),
    )
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in (401, 403, 429, *codes)}


def absolute(request, name: str, *args) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def run_document(request, run: Run) -> dict:
    return {
        "id": run.pk,
        "run_id": run.run_id,
        "trace_id": run.trace_id,
        "status": run.status,
        "in_progress": run.is_in_progress,
        "workflow": run.workflow.slug,
        "brief": run.brief_id,
        "prompt_version": run.prompt_version.label,
        "model": run.model_name,
        "risk_level": run.risk_level or "",
        "error": run.error_detail,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "links": {
            "self": absolute(request, "api:run-detail", run.pk),
            "trace": absolute(request, "api:run-trace", run.pk),
            "admin": absolute(request, "admin:workflows_run_change", run.pk),
        },
    }


def runs():
    return Run.objects.select_related("workflow", "prompt_version__template")


class RunListView(APIView):
    required_permissions = {"POST": ["workflows.start_run"]}

    @extend_schema(
        operation_id="runs_start",
        summary="Start a run of a workflow on one of its briefs",
        description="The same service as the admin's Start run page (workflows.services.run_start): "
        "the run is queued on the workflow's production prompt version.",
        request=s.RunStartIn,
        responses={201: s.RunOut, **errors(400, 409)},
    )
    def post(self, request):
        data = _valid(s.RunStartIn, request)
        workflow = Workflow.objects.filter(slug=data["workflow"]).first()
        if workflow is None:
            raise exceptions.ValidationError({"workflow": [f"No workflow {data['workflow']!r}."]})
        brief = CampaignBrief.objects.filter(pk=data["brief"]).first()
        if brief is None:
            raise exceptions.ValidationError({"brief": [f"No campaign brief {data['brief']}."]})
        run = workflow_services.run_start(
            workflow=workflow,
            brief=brief,
            started_by=request.user,
            fresh_sample=data["fresh_sample"],
        )
        run = runs().get(pk=run.pk)
        return Response(
            run_document(request, run),
            status=status.HTTP_201_CREATED,
            headers={"Location": absolute(request, "api:run-detail", run.pk)},
        )


class RunDetailView(APIView):
    required_permissions = {"GET": ["workflows.view_run"]}

    @extend_schema(
        operation_id="runs_read", summary="A run's status", responses={200: s.RunOut, **errors(404)}
    )
    def get(self, request, pk: int):
        return Response(run_document(request, get_object_or_404(runs(), pk=pk)))


class RunTraceView(APIView):
    required_permissions = {"GET": ["workflows.view_run", "workflows.view_trace"]}

    @extend_schema(
        operation_id="runs_trace",
        summary="A run's trace",
        description="The redacted trace document the admin's run page shows.",
        responses={200: s.TraceOut, **errors(404)},
    )
    def get(self, request, pk: int):
        trace = get_object_or_404(
            Trace.objects.only("run_id", "trace_id", "updated_at", "document"), run_id=pk
        )
        return Response(
            {
                "run": trace.run_id,
                "trace_id": trace.trace_id,
                "updated_at": trace.updated_at,
                "document": trace.document,
            }
        )


def prompt_document(workflow: Workflow, version: PromptVersion) -> dict:
    content = {
        "workflow": workflow.slug,
        "version": version.label,
        "version_number": version.version,
        "status": version.status,
        "approved_at": version.approved_at.isoformat() if version.approved_at else None,
        "system_prompt": version.system_prompt,
        "user_template": version.user_template,
        "output_schema": version.output_schema,
        "model": {
            "name": version.model_name or settings.MARKETINGAI_LLM["MODEL"],
            "temperature": float(version.temperature),
            "max_tokens": version.max_tokens,
        },
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**content, "content_hash": hashlib.sha256(canonical.encode()).hexdigest()}


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ is ignored; * matches."""
    candidates = [c.strip() for c in header.split(",") if c.strip()]
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


class ProductionPromptView(APIView):
    required_permissions = {"GET": ["workflows.view_workflow", "workflows.view_promptversion"]}

    @extend_schema(
        operation_id="workflows_production_prompt",
        summary="The production prompt version of a workflow",
        description="System prompt, user template, output schema and model parameters of the "
        "version pinned in production. The strong ETag is the content's sha256: send it back "
        "in If-None-Match and an unchanged version answers 304 with no body.",
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False)
        ],
        responses={
            200: s.ProductionPromptOut,
            304: OpenApiResponse(description="Not modified: the ETag sent is current."),
            **errors(404),
        },
    )
    def get(self, request, slug: str):
        workflow = get_object_or_404(
            Workflow.objects.select_related("production_version__template"), slug=slug
        )
        version = workflow.production_version
        if version is None:
            raise exceptions.NotFound(f"{workflow.slug} has no production prompt version pinned.")
        document = prompt_document(workflow, version)
        etag = f'"{document["content_hash"]}"'
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(document, headers=headers)


def queue_item_document(request, item: ApprovalItem) -> dict:
    return {
        "id": item.pk,
        "run": item.run_id,
        "run_id": item.run.run_id,
        "workflow": item.run.workflow.slug,
        "prompt_version": item.run.prompt_version.label,
        "team": item.team.slug if item.team else "",
        "risk_level": item.run.risk_level or "",
        "routing_reason": item.routing_reason,
        "created_at": item.created_at,
        "due_at": item.due_at,
        "overdue": item.is_overdue,
        "links": {
            "decision": absolute(request, "api:approval-item-decision", item.pk),
            "run": absolute(request, "api:run-detail", item.run_id),
            "admin": absolute(request, "admin:approvals_reviewqueueitem_change", item.pk),
        },
    }


class ReviewQueueView(APIView):
    """The open items in the queues of the requesting user's teams, oldest first."""

    required_permissions = {"GET": ["approvals.view_reviewqueueitem"]}
    LIMIT = 200

    @extend_schema(
        operation_id="review_queue",
        summary="The requesting reviewer's queue",
        description=f"Open approval items of the user's teams, oldest first (at most {LIMIT}), "
        "as the admin's review queue lists them.",
        responses={200: s.ReviewQueueOut, **errors()},
    )
    def get(self, request):
        # The admin review queue's own query (ReviewQueueAdmin.get_queryset).
        queue = (
            ApprovalItem.objects.open()
            .for_user(request.user)
            .with_related()
            .order_by("created_at", "pk")
        )
        items = list(queue[: self.LIMIT])
        return Response(
            {
                "count": queue.count(),
                "items": [queue_item_document(request, item) for item in items],
            }
        )


class DecisionView(APIView):
    required_permissions = {
        "POST": ["approvals.view_reviewqueueitem", "approvals.decide_approvalitem"]
    }

    @extend_schema(
        operation_id="approval_items_decide",
        summary="Decide an approval item",
        description="approvals.services.item_decide, with all its checks: the user must be in "
        "the item's team and may not decide a run they started or whose prompt they wrote; the "
        "service account never decides. A closed item answers 409.",
        request=s.DecisionIn,
        responses={200: s.DecisionOut, **errors(400, 404, 409)},
    )
    def post(self, request, pk: int):
        data = _valid(s.DecisionIn, request)
        item = get_object_or_404(ApprovalItem.objects.with_related(), pk=pk)
        # Who may not decide is 403 (as the admin's item page); a closed item is 409 from the
        # service, but only for the people of its queue.
        reason = approval_services.refusal_reason(user=request.user, item=item)
        if reason and (item.is_open or item.team is None or not item.team.has_member(request.user)):
            raise exceptions.PermissionDenied(reason)
        escalate_to = None
        if data["escalate_to"]:
            escalate_to = ReviewTeam.objects.filter(slug=data["escalate_to"]).first()
            if escalate_to is None:
                raise exceptions.ValidationError(
                    {"escalate_to": [f"No review team {data['escalate_to']!r}."]}
                )
        try:
            outcome = approval_services.item_decide(
                item_id=item.pk,
                decision=data["decision"],
                reviewer=request.user,
                note=data["note"],
                escalate_to=escalate_to,
            )
        except ValidationError as exc:
            raise refused(exc) from None
        decision: Decision = outcome.decision
        return Response(
            {
                "item": item.pk,
                "decision": decision.decision,
                "reviewer": decision.reviewer.get_username(),
                "decided_at": decision.decided_at,
                "run": run_document(request, runs().get(pk=item.run_id)),
                "revision_run": outcome.revision.pk if outcome.revision else None,
                "escalated_item": outcome.escalated_item.pk if outcome.escalated_item else None,
            }
        )


def suite_document(request, suite: EvalSuiteRun) -> dict:
    return {
        "id": suite.pk,
        "label": suite.label,
        "status": suite.status,
        "in_progress": suite.is_in_progress,
        "workflow": suite.workflow.slug,
        "candidate": suite.candidate.label,
        "baseline": suite.baseline.label,
        "dataset": suite.dataset.slug,
        "progress_done": suite.progress_done,
        "progress_total": suite.progress_total,
        "decision": suite.decision,
        "decision_reasons": list(suite.decision_reasons or []),
        "error": suite.error_detail,
        "report": suite.report or None,
        "links": {"self": absolute(request, "api:eval-suite-detail", suite.pk)},
    }


def suites():
    return EvalSuiteRun.objects.select_related(
        "workflow", "candidate__template", "baseline__template", "dataset"
    )


class EvalSuiteListView(APIView):
    required_permissions = {"POST": ["evals.start_evalsuiterun"]}

    @extend_schema(
        operation_id="eval_suites_start",
        summary="Start an eval suite: a candidate prompt version against a baseline",
        description="evals.services.suite_start, as the admin's Run an eval suite page.",
        request=s.SuiteStartIn,
        responses={201: s.SuiteOut, **errors(400, 409)},
    )
    def post(self, request):
        data = _valid(s.SuiteStartIn, request)
        workflow = (
            Workflow.objects.select_related("production_version")
            .filter(slug=data["workflow"])
            .first()
        )
        if workflow is None:
            raise exceptions.ValidationError({"workflow": [f"No workflow {data['workflow']!r}."]})
        versions = PromptVersion.objects.select_related("template")
        candidate = versions.filter(pk=data["candidate"]).first()
        if candidate is None:
            raise exceptions.ValidationError(
                {"candidate": [f"No prompt version {data['candidate']}."]}
            )
        baseline = None
        if data.get("baseline"):
            baseline = versions.filter(pk=data["baseline"]).first()
            if baseline is None:
                raise exceptions.ValidationError(
                    {"baseline": [f"No prompt version {data['baseline']}."]}
                )
        dataset = None
        if data.get("dataset"):
            dataset = EvalDataset.objects.filter(workflow=workflow, slug=data["dataset"]).first()
            if dataset is None:
                raise exceptions.ValidationError(
                    {"dataset": [f"{workflow.slug} has no eval dataset {data['dataset']!r}."]}
                )
        options = {"seed": data["seed"]} if "seed" in data else {}
        suite = eval_services.suite_start(
            workflow=workflow,
            candidate=candidate,
            baseline=baseline,
            dataset=dataset,
            concurrency=data["concurrency"],
            started_by=request.user,
            **options,
        )
        return Response(
            suite_document(request, suites().get(pk=suite.pk)),
            status=status.HTTP_201_CREATED,
            headers={"Location": absolute(request, "api:eval-suite-detail", suite.pk)},
        )


class EvalSuiteDetailView(APIView):
    required_permissions = {"GET": ["evals.view_evalsuiterun"]}

    @extend_schema(
        operation_id="eval_suites_read",
        summary="An eval suite's status and, once finished, its report",
        responses={200: s.SuiteOut, **errors(404)},
    )
    def get(self, request, pk: int):
        return Response(suite_document(request, get_object_or_404(suites(), pk=pk)))


class CampaignEventsView(APIView):
    required_permissions = {"POST": ["measurement.import_events"]}

    @extend_schema(
        operation_id="campaign_events_ingest",
        summary="Post campaign events (delivered, opened, clicked, ... converted)",
        description="measurement.services.events_ingest, the path webhooks and file imports "
        "take: each event is stored once per source and event id, tied to its run through the "
        "publish key and variant, and counted; unsubscribes and complaints suppress the address. "
        "A malformed batch is refused whole (400) and nothing is stored.",
        request=s.CampaignEventsIn,
        responses={201: s.CampaignEventsOut, **errors(400)},
    )
    def post(self, request):
        data = _valid(s.CampaignEventsIn, request)
        events = [measurement_services.EventIn(**event) for event in data["events"]]
        try:
            result = measurement_services.events_ingest(
                events=events,
                source=data["source"],
                by=request.user,
                source_name=f"API token {request.auth.display_prefix}",
            )
        except ValueError as exc:
            raise exceptions.ValidationError({"source": [str(exc)]}) from None
        return Response(
            {
                "ingest": result.ingest_id,
                "received": len(events),
                "stored": result.stored,
                "duplicates": result.duplicates,
                "unattributed": result.unattributed,
                "refused": result.refused,
            },
            status=status.HTTP_201_CREATED,
        )


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
