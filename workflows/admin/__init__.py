"""Admin for marketing ops: declarative lists, gated actions, read-only runs and traces.

The workflow, segment, run and prompt pages are composed: feature apps add sections, inlines,
columns, buttons and views through workflows.admin_extensions; nothing here knows those apps.

One module per concept; importing this package registers every admin, and the names other
apps build on (ReadOnlyAdminMixin, VersionedArtifactAdmin, pretty_json) are re-exported here.
"""

from workflows.admin import charts  # noqa: F401 - registers the workflow page's charts
from workflows.admin.briefs import AudienceSegmentAdmin, CampaignBriefAdmin
from workflows.admin.common import ReadOnlyAdminMixin, VersionedArtifactAdmin, pretty_json
from workflows.admin.prompts import PromptTemplateAdmin, PromptVersionAdmin, prompt_diff
from workflows.admin.registries import BrandRulesAdmin, ClaimSetAdmin, LegalRestrictionSetAdmin
from workflows.admin.runs import GenerationCacheEntryAdmin, RunAdmin, RunOutputAdmin, TraceAdmin
from workflows.admin.workflows import WorkflowAdmin

__all__ = [
    "AudienceSegmentAdmin",
    "BrandRulesAdmin",
    "CampaignBriefAdmin",
    "ClaimSetAdmin",
    "GenerationCacheEntryAdmin",
    "LegalRestrictionSetAdmin",
    "PromptTemplateAdmin",
    "PromptVersionAdmin",
    "ReadOnlyAdminMixin",
    "RunAdmin",
    "RunOutputAdmin",
    "TraceAdmin",
    "VersionedArtifactAdmin",
    "WorkflowAdmin",
    "pretty_json",
    "prompt_diff",
]
