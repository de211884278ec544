from django.core.management.base import BaseCommand, CommandError

from approvals.roles import roles_sync


class Command(BaseCommand):
    help = "Create or update the role groups (Marketing ops, Legal reviewers, Brand reviewers, Managers)."

    def handle(self, *args, **options):
        try:
            groups = roles_sync()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for group in groups:
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
