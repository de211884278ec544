"""The workflow domain: versioned inputs, prompts, workflows, briefs, runs and traces.

Lifecycle changes are model methods that check their arguments and take one step of their
transition table through the one lifecycle mechanism (workflows.lifecycle).
Orchestration across models, the model endpoint and the task queue lives in services.py.

One module per concept; every name other code imports is re-exported here, so
``from workflows.models import Run`` names the same class as ``workflows.models.runs.Run``.
"""

from workflows.lifecycle import with_history_context
from workflows.models.artifacts import (
    ArtifactStatus,
    SupersedingArtifact,
    VersionedArtifact,
    VersionedQuerySet,
)
from workflows.models.cache import GenerationCacheEntry
from workflows.models.prompts import PromptTemplate, PromptVersion
from workflows.models.registries import BrandRules, Claim, ClaimSet, LegalRestrictionSet
from workflows.models.runs import (
    TRACE_ID_RANDOM_BYTES,
    Run,
    RunOutput,
    RunQuerySet,
    RunVariant,
    Trace,
    history_user_of_run,
    new_trace_id,
)
from workflows.models.segments import AudienceSegment
from workflows.models.workflows import (
    CampaignBrief,
    Workflow,
    default_cohort_attributes,
    default_steps,
)

__all__ = [
    "TRACE_ID_RANDOM_BYTES",
    "ArtifactStatus",
    "AudienceSegment",
    "BrandRules",
    "CampaignBrief",
    "Claim",
    "ClaimSet",
    "GenerationCacheEntry",
    "LegalRestrictionSet",
    "PromptTemplate",
    "PromptVersion",
    "Run",
    "RunOutput",
    "RunQuerySet",
    "RunVariant",
    "SupersedingArtifact",
    "Trace",
    "VersionedArtifact",
    "VersionedQuerySet",
    "Workflow",
    "default_cohort_attributes",
    "default_steps",
    "history_user_of_run",
    "new_trace_id",
    "with_history_context",
]
