"""Promotion of prompt versions: the basis, the request and a second person's decision."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from evals.models import (
    EvalSuiteRun,
    PromotionRequest,
)
from workflows.models import (
    ArtifactStatus,
    PromptVersion,
    Workflow,
    with_history_context,
)


def promotion_basis(
    *, workflow: Workflow, version: PromptVersion
) -> tuple[EvalSuiteRun | None, str]:
    """The finished suite a promotion of ``version`` rests on, or why it may not be promoted now."""
    if version.template_id != workflow.prompt_template_id:
        return None, f"{version.label} is not a version of {workflow.prompt_template}."
    if version.status != ArtifactStatus.APPROVED:
        return (
            None,
            f"Only an approved version can be promoted; {version.label} is {version.status}.",
        )
    production = workflow.production_version
    if production is not None and production.pk == version.pk:
        return None, f"{workflow.slug} already serves {version.label}."
    suites = EvalSuiteRun.objects.filter(
        workflow=workflow, candidate=version, status=EvalSuiteRun.Status.FINISHED
    )
    suite = (
        suites.filter(baseline=production).order_by("-finished_at", "-pk").first()
        if production
        else suites.order_by("-finished_at", "-pk").first()
    )
    if suite is None:
        against = f" against the production version {production.label}" if production else ""
        return None, f"{version.label} has no finished eval suite{against}: run one first."
    if not suite.promotes:
        return (
            suite,
            f"The latest eval suite of {version.label} ({suite.label}) says do not promote.",
        )
    return suite, ""


def promotion_request(
    *, workflow: Workflow, version: PromptVersion, requested_by, note: str = ""
) -> PromotionRequest:
    """Ask for ``version`` to serve production; only when its latest suite against production says promote."""
    if requested_by is None or not requested_by.has_perm("evals.request_promotion"):
        raise PermissionDenied(f"{requested_by or 'Nobody'} may not request promotions.")
    with transaction.atomic():
        suite, problem = promotion_basis(workflow=workflow, version=version)
        if problem:
            raise ValidationError(problem)
        if PromotionRequest.objects.filter(
            workflow=workflow, version=version, status=PromotionRequest.Status.REQUESTED
        ).exists():
            raise ValidationError(
                f"A promotion of {version.label} is already waiting for a decision."
            )
        request = PromotionRequest(
            workflow=workflow, version=version, suite=suite, requested_by=requested_by, note=note
        )
        with_history_context(
            request,
            by=requested_by,
            reason=f"Promotion of {version.label} requested on {suite.label}",
        )
        request.save()
    return request


def promotion_approve(*, request: PromotionRequest, by, note: str = "") -> Workflow:
    """A second person approves: production is pinned to the version, naming the suite and the approver."""
    if by is None or not by.has_perm("evals.approve_promotion"):
        raise PermissionDenied(f"{by or 'Nobody'} may not approve promotions.")
    with transaction.atomic():
        workflow = (
            Workflow.objects.select_for_update(of=("self",))
            .select_related("production_version")
            .get(pk=request.workflow_id)
        )
        version = request.version
        problem = request.refusal(by)
        if problem:
            raise ValidationError(problem)
        suite, problem = promotion_basis(workflow=workflow, version=version)
        if problem:
            raise ValidationError(f"{problem} The request cannot be approved.")
        request.approve(by=by, note=note)
        reason = (
            f"{suite.label} says promote ({version.label} vs {suite.baseline.label} on {suite.dataset.name}); "
            f"requested by {request.requested_by}, approved by {by}" + (f": {note}" if note else "")
        )
        workflow.pin_production_version(version, by=by, reason=reason)
    return workflow


def promotion_reject(*, request: PromotionRequest, by, note: str = "") -> PromotionRequest:
    if by is None or not by.has_perm("evals.approve_promotion"):
        raise PermissionDenied(f"{by or 'Nobody'} may not decide promotions.")
    request.reject(by=by, note=note)
    return request
