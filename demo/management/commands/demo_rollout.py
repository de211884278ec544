"""demo_rollout: the rollout story of the trial email's candidate, told on stdout (docs/rollout-demo.md)."""

from __future__ import annotations

from contextlib import nullcontext

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from demo.rollout_story import RolloutStory, StoryRefused
from demo.scripted_model import MODEL_NAME, ScriptedModel


class Command(BaseCommand):
    help = (
        "Tell the demo's rollout story: candidate v10 of the trial email from shadow mode to a 10 % "
        "audience test and a ramp on simulated events, a guardrail pause and the promotion. "
        "Run it from a second shell while `make run` is up; it runs once per demo database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="Readers and events (default 1).")
        parser.add_argument(
            "--fast",
            action="store_true",
            help="Generate and judge with the story's scripted model (fixed copy, seconds) "
            "instead of the configured model.",
        )
        parser.add_argument(
            "--recipients", type=int, default=6000, help="Simulated readers (default 6,000)."
        )
        parser.add_argument(
            "--wait-seconds",
            type=float,
            default=60,
            help="How long to wait for the task cluster's guardrail check before running it here.",
        )

    def handle(self, *args, **options):
        story = RolloutStory(
            seed=options["seed"],
            recipients=options["recipients"],
            shadow_runs=2 if options["fast"] else 1,
            wait_seconds=options["wait_seconds"],
            say=self.stdout.write,
        )
        model = ScriptedModel() if options["fast"] else nullcontext()
        with model as scripted:
            if scripted is not None:
                self.stdout.write(
                    f"--fast: the scripted model at {scripted.base_url} writes the copy."
                )
                endpoint = {**settings.MARKETINGAI_LLM, "BASE_URL": scripted.base_url}
                endpoint |= {"MODEL": MODEL_NAME, "API_KEY": "demo-scripted"}
            with override_settings(MARKETINGAI_LLM=endpoint) if scripted else nullcontext():
                try:
                    story.run()
                except StoryRefused as exc:
                    raise CommandError(str(exc)) from None
