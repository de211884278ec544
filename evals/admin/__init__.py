"""Admin for evals: policies, rubrics and results; datasets, eval suites, promotion of prompt versions.

Its parts of the kernel's pages (the run's checks, the prompt versions' latest suite, the
promotion buttons and views) are contributions registered by the module they belong to:
the run's Evals section in ``evaluations``, the prompt version's in ``promotion``.
Importing this package registers every admin.
"""

from evals.admin import charts, dataset_loop, datasets, evaluations, promotion, suites

__all__ = ["charts", "dataset_loop", "datasets", "evaluations", "promotion", "suites"]
