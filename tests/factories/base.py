"""A model factory whose saves are audited like the product's: history names who and why."""

from __future__ import annotations

from factory.django import DjangoModelFactory

from workflows.models import with_history_context

TEST_REASON = "Test data"


class AuditedFactory(DjangoModelFactory):
    """Saves through ``model.save()`` (its guards run) with a history user: ``history_user=``,
    else the object's author or creator."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        by = kwargs.pop("history_user", None)
        obj = model_class(*args, **kwargs)
        if by is None:
            by = next(
                (
                    getattr(obj, f)
                    for f in ("author", "created_by", "imported_by")
                    if hasattr(obj, f)
                ),
                None,
            )
        with_history_context(obj, by=by, reason=TEST_REASON)
        obj.save()
        return obj
