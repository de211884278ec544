import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from evals import services
from workflows.llm import EndpointConfig
from workflows.models import BrandRules, ClaimSet, LegalRestrictionSet, Workflow
from workflows.vocabulary import Verdict


class Command(BaseCommand):
    help = (
        "Run a workflow's output checks on a JSON output file against its current claims, brand and legal "
        "versions; print the results as JSON. Exit 0 when everything passes, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument("file", help="A JSON file holding one output.")
        parser.add_argument("--brief", type=int, help="Check against this brief's offer and facts.")
        parser.add_argument(
            "--judges", action="store_true", help="Also run the model judges (calls the model)."
        )

    def handle(self, *args, **options):
        workflow = Workflow.objects.filter(slug=options["workflow"]).first()
        if workflow is None:
            raise CommandError(f"No workflow {options['workflow']!r}.")
        path = Path(options["file"])
        try:
            output = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"No file {path}.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path} is not a UTF-8 JSON file: {exc}") from None
        brief = workflow.briefs.filter(pk=options["brief"]).first() if options["brief"] else None
        if options["brief"] and brief is None:
            raise CommandError(f"Brief {options['brief']} is not a brief of {workflow.slug}.")
        policy = services.policy_for(workflow)
        claims, legal, brand = (
            ClaimSet.objects.latest_approved(),
            LegalRestrictionSet.objects.latest_approved(),
            BrandRules.objects.latest_approved(),
        )
        ctx = services.evaluation_context(
            workflow=workflow, policy=policy, claim_set=claims, legal=legal, brief=brief
        )
        findings, verdicts, level = services.evaluate_output(
            output=output,
            ctx=ctx,
            policy=policy,
            endpoint=EndpointConfig.from_settings() if options["judges"] else None,
            judge_model=policy.judge_model
            or (workflow.production_version.model_name if workflow.production_version else "")
            or settings.MARKETINGAI_LLM["MODEL"],
            evidence=services.evidence_for(
                workflow=workflow,
                policy=policy,
                claim_set=claims,
                brand_rules=brand,
                legal=legal,
                brief=brief,
            ),
        )
        report = {
            "workflow": workflow.slug,
            "checked_against": {
                "approved_claims_version": claims.label if claims else None,
                "legal_restrictions_version": legal.label if legal else None,
                "brand_rules_version": brand.label if brand else None,
                "eval_policy_version": policy.version,
                "brief": brief.label if brief else None,
            },
            "risk_level": level,
            "results": [f.as_dict() for f in findings],
            "judges": verdicts,
            "passed": all(f.verdict == Verdict.PASS for f in findings)
            and all(v["verdict"] == Verdict.PASS for v in verdicts),
        }
        self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
        if not report["passed"]:
            raise SystemExit(1)
