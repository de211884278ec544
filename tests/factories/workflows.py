"""Registries, prompts, workflows, segments and briefs. Approval and pinning go through the
product's lifecycle methods (``approve``, ``pin_production_version``), never by writing status."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from tests.factories import content
from tests.factories.base import AuditedFactory
from tests.factories.users import SuperuserFactory, UserFactory
from workflows.models import (
    AudienceSegment,
    BrandRules,
    CampaignBrief,
    Claim,
    ClaimSet,
    LegalRestrictionSet,
    PromptTemplate,
    PromptVersion,
    Workflow,
    with_history_context,
)


class VersionedFactory(AuditedFactory):
    """A versioned document: a draft by ``author``; ``approved_by=`` approves it through its lifecycle."""

    class Meta:
        abstract = True

    author = factory.SubFactory(UserFactory)
    changelog = "Test version"

    @factory.post_generation
    def approved_by(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.approve(by=extracted, reason="Approved for the test")


class ClaimSetFactory(VersionedFactory):
    """A claims registry version; ``claims=[{"key", "text", ...}]`` are added while it is a draft."""

    class Meta:
        model = ClaimSet

    @classmethod
    def _create(cls, model_class, *args, claims=(), **kwargs):
        claim_set = super()._create(model_class, *args, **kwargs)
        for values in claims:
            claim = Claim(claim_set=claim_set, **values)
            with_history_context(claim, by=claim_set.author, reason="Test claim")
            claim.save()
        return claim_set


class BrandRulesFactory(VersionedFactory):
    class Meta:
        model = BrandRules

    rules = content.BRAND_RULES
    reviewed_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=20))


class LegalRestrictionSetFactory(VersionedFactory):
    class Meta:
        model = LegalRestrictionSet

    restrictions = content.LEGAL_RESTRICTIONS
    restricted_terms = factory.LazyFunction(lambda: list(content.RESTRICTED_TERMS))


class PromptTemplateFactory(AuditedFactory):
    class Meta:
        model = PromptTemplate
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"prompt_{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("_", " ").capitalize())


class PromptVersionFactory(VersionedFactory):
    class Meta:
        model = PromptVersion

    template = factory.SubFactory(PromptTemplateFactory)
    system_prompt = content.SYSTEM_PROMPT
    user_template = content.USER_TEMPLATE
    output_schema = factory.LazyFunction(content.email_schema)
    temperature = Decimal("0.40")
    max_tokens = 600


class SegmentFactory(AuditedFactory):
    """An audience segment last refreshed ``refreshed_at`` (three hours ago by default)."""

    class Meta:
        model = AudienceSegment
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"segment_{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("_", " ").capitalize())
    refreshed_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(hours=3))


class WorkflowFactory(AuditedFactory):
    """A workflow on its prompt template; ``production=`` pins an approved version through
    ``pin_production_version`` (by ``production__by``, a superuser by default)."""

    class Meta:
        model = Workflow

    slug = factory.Sequence(lambda n: f"workflow_{n}")
    name = factory.LazyAttribute(lambda w: w.slug.replace("_", " ").capitalize())
    prompt_template = factory.SubFactory(
        PromptTemplateFactory, slug=factory.SelfAttribute("..slug")
    )
    output_schema = factory.LazyFunction(content.email_schema)
    fallback_content = factory.LazyFunction(lambda: dict(content.FALLBACK_EMAIL))

    @factory.post_generation
    def production(self, create, extracted, by=None, **kwargs):
        if create and extracted is not None:
            self.pin_production_version(
                extracted, by=by or SuperuserFactory(), reason="Pinned for the test"
            )


class CampaignBriefFactory(AuditedFactory):
    class Meta:
        model = CampaignBrief

    workflow = factory.SubFactory(WorkflowFactory)
    name = factory.Sequence(lambda n: f"Brief {n}")
    audience_segment = factory.SubFactory(SegmentFactory)
    audience_role = content.BRIEF["audience_role"]
    plan_name = content.BRIEF["plan_name"]
    product_usage_summary = content.BRIEF["product_usage_summary"]
    key_facts = content.BRIEF["key_facts"]
    created_by = factory.SubFactory(UserFactory)
