"""django-q2 tasks: take ids, call one service."""

from publishing import services


def publish_attempts_task(run_id: int) -> str:
    return services.run_deliver(run_id=run_id).summary


def resume_publishing_task() -> int:
    """Scheduled: deliveries whose task was lost or whose worker stopped are taken up again."""
    return len(services.runs_resume_publishing())
