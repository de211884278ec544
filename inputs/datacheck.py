"""The data check: does each required input meet the workflow's contract? Pure functions.

The caller observes the inputs (ages, versions, recipient counts); ``evaluate`` applies the
contract and decides, in a document shaped for the run page and the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.vocabulary import Verdict

STOP = "stop"
GENERIC_AND_FLAG = "generic_and_flag"
WARN_AND_REVIEW = "warn_and_review"
EXCLUDE_RECIPIENTS = "exclude_recipients"
LATEST_APPROVED = "latest_approved"

GENERATE = "generate"
GENERATE_WITH_FLAGS = "generate_with_flags"
STOP_BEFORE_GENERATION = "stop_before_generation"

LABELS = {
    "audience_segment": "audience segment",
    "product_usage_summary": "product usage data",
    "approved_claims": "approved claims",
    "legal_restrictions": "legal restrictions",
    "brand_rules": "brand rules",
}
PLURAL_INPUTS = frozenset({"approved_claims", "legal_restrictions", "brand_rules"})


@dataclass(frozen=True)
class Requirement:
    input_name: str
    source: str
    freshness: str
    on_failure: str
    max_age_hours: int | None = None


@dataclass(frozen=True)
class Observation:
    """What was found of one input. Versioned inputs give ``version``/``latest_version``;
    dated inputs give ``age_hours`` (None: never updated)."""

    version: str | None = None
    latest_version: str | None = None
    age_hours: float | None = None


@dataclass(frozen=True)
class AudienceCounts:
    total: int
    opted_out: int
    stale_usage: int  # opted-in recipients whose usage data is missing or older than the limit

    @property
    def opted_in(self) -> int:
        return self.total - self.opted_out


@dataclass
class DataCheckResult:
    document: dict[str, Any]
    decision: str
    summary: str
    route_to_review: bool
    stale_usage_treatment: str = (
        ""  # how recipients with stale usage are treated: generic / excluded / ""
    )
    flags: list[str] = field(default_factory=list)


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def _hours(value: float) -> float | int:
    return round(value) if value >= 10 else round(value, 1)


def _check_versioned(req: Requirement, obs: Observation) -> tuple[dict[str, Any], str]:
    entry = {"source": req.source, "version": obs.version, "rule": LATEST_APPROVED}
    label = LABELS.get(req.input_name, req.input_name)
    if obs.version is None:
        return entry | {"status": Verdict.FAIL}, f"there is no approved version of the {label}"
    if obs.latest_version != obs.version:
        latest = obs.latest_version or "none"
        return entry | {"status": Verdict.FAIL, "latest_version": latest}, (
            f"the {label} version {obs.version} is no longer the latest approved (now: {latest})"
        )
    return entry | {"status": Verdict.PASS}, ""


def _check_age(req: Requirement, obs: Observation) -> tuple[dict[str, Any], str]:
    entry: dict[str, Any] = {"source": req.source, "max_age_hours": req.max_age_hours}
    label = LABELS.get(req.input_name, req.input_name)
    verb = "reviewed" if req.freshness == "reviewed_within" else "updated"
    was = "were" if req.input_name in PLURAL_INPUTS else "was"
    have = "have" if req.input_name in PLURAL_INPUTS else "has"
    if obs.version:
        entry["version"] = obs.version
    if obs.age_hours is None:
        return entry | {
            "actual_age_hours": None,
            "status": Verdict.FAIL,
        }, f"the {label} {have} never been {verb}"
    entry["actual_age_hours"] = _hours(obs.age_hours)
    if req.max_age_hours is not None and obs.age_hours > req.max_age_hours:
        return entry | {"status": Verdict.FAIL}, (
            f"the {label} {was} last {verb} {_describe_age(obs.age_hours)} ago; the contract allows {_describe_age(req.max_age_hours)}"
        )
    return entry | {"status": Verdict.PASS}, ""


def _describe_age(hours: float) -> str:
    if hours >= 72:
        return f"{round(hours / 24)} days"
    return f"{_hours(hours)} hours"


def evaluate(
    *,
    workflow: str,
    run_id: str,
    requirements: list[Requirement],
    observations: dict[str, Observation],
    audience: AudienceCounts | None,
) -> DataCheckResult:
    required: dict[str, Any] = {}
    stops: list[str] = []
    flags: list[str] = []
    route_to_review = False
    stale_treatment = ""

    for req in requirements:
        if req.input_name == "product_usage_summary" and audience is not None:
            entry, problem = _check_usage(req, audience)
        elif req.freshness == LATEST_APPROVED:
            entry, problem = _check_versioned(req, observations.get(req.input_name, Observation()))
        else:
            entry, problem = _check_age(req, observations.get(req.input_name, Observation()))
        entry["on_failure"] = req.on_failure
        required[req.input_name] = entry
        if not problem:
            continue
        if req.on_failure == STOP:
            stops.append(problem)
        elif req.on_failure == WARN_AND_REVIEW:
            route_to_review = True
            flags.append(f"{problem[0].upper()}{problem[1:]}: the output goes to review")
        elif req.input_name == "product_usage_summary":
            stale_treatment = "generic" if req.on_failure == GENERIC_AND_FLAG else "excluded"
            flags.append(problem)
        else:
            flags.append(f"{problem[0].upper()}{problem[1:]}")

    audience_summary = None
    if audience is not None:
        excluded = audience.stale_usage if stale_treatment == "excluded" else 0
        eligible = audience.opted_in - excluded
        audience_summary = {
            "recipients": audience.total,
            "opted_out": audience.opted_out,
            "stale_usage": audience.stale_usage,
            "excluded": excluded,
            "eligible": eligible,
        }
        if audience.total == 0:
            stops.append("the audience segment has no recipients; import them first")
        elif eligible == 0 and not stops:
            stops.append(
                f"no recipient may receive this run ({audience.opted_out} opted out, {excluded} excluded for stale data)"
            )

    if stops:
        decision = STOP_BEFORE_GENERATION
        summary = f"Stopped before generation: {'; '.join(stops)}."
    elif flags:
        decision = GENERATE_WITH_FLAGS
        summary = f"Generating with flags: {'; '.join(flags)}."
    else:
        decision = GENERATE
        summary = "All required inputs meet the data contract."

    document = {
        "workflow": workflow,
        "run_id": run_id,
        "required_inputs": required,
        "audience": audience_summary,
        "flags": flags,
        "route_to_review": route_to_review,
        "decision": decision,
        "summary": summary,
    }
    return DataCheckResult(
        document=document,
        decision=decision,
        summary=summary,
        route_to_review=route_to_review,
        stale_usage_treatment=stale_treatment,
        flags=flags,
    )


def _check_usage(req: Requirement, audience: AudienceCounts) -> tuple[dict[str, Any], str]:
    share = percent(audience.stale_usage, audience.opted_in)
    entry = {
        "source": req.source,
        "max_age_hours": req.max_age_hours,
        "recipients_checked": audience.opted_in,
        "stale_recipients": audience.stale_usage,
        "stale_percent": share,
        "status": Verdict.FAIL if audience.stale_usage else Verdict.PASS,
    }
    if not audience.stale_usage:
        return entry, ""
    consequence = {
        GENERIC_AND_FLAG: "they get the generic variant",
        EXCLUDE_RECIPIENTS: "they are excluded from this run",
        STOP: "the run stops",
        WARN_AND_REVIEW: "they keep personalized copy",
    }[req.on_failure]
    return entry, (
        f"Product usage data is stale for {share} percent of recipients "
        f"({audience.stale_usage} of {audience.opted_in}); {consequence}"
    )


def finding_text(entry: dict) -> str:
    """What the data check found of one input (an entry of the document's required_inputs), in a few words."""
    found = []
    if entry.get("version"):
        found.append(entry["version"])
    if "actual_age_hours" in entry:
        found.append(f"{entry['actual_age_hours']} h old (max {entry['max_age_hours']} h)")
    if "stale_recipients" in entry:
        found.append(
            f"{entry['stale_recipients']} of {entry['recipients_checked']} recipients stale (max {entry['max_age_hours']} h)"
        )
    return ", ".join(found) or "-"
