"""django-q2 tasks: take ids, call one service."""

from evals import services


def suite_execute_task(suite_id: int) -> str:
    return services.suite_execute(suite_id=suite_id).status


def fail_stuck_suites_task() -> int:
    return len(services.suites_fail_stuck())
