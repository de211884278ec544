"""django-q2 tasks: take ids, call one service."""

from workflows import services


def run_execute_task(run_id: int) -> str:
    return services.run_execute(run_id=run_id).status


def fail_stuck_runs_task() -> int:
    return len(services.runs_fail_stuck())
