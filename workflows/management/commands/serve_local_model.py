import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows import localmodel


class Command(BaseCommand):
    help = "Serve the bundled SmolLM2-135M-Instruct model over the OpenAI protocol on 127.0.0.1 (foreground)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.LOCAL_MODEL_PORT)
        parser.add_argument("--n-ctx", type=int, default=4096, help="Context window in tokens.")

    def handle(self, *args, **options):
        try:
            command = localmodel.server_command(port=options["port"], n_ctx=options["n_ctx"])
        except localmodel.LocalModelUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"Serving {localmodel.GGUF_FILENAME} at {localmodel.bundled_base_url(options['port'])}"
        )
        os.execv(command[0], command)
