"""The history admin every model with history uses: a revert is a change like any other.

simple-history's revert form saves the historical row itself, non-editable fields included
(status, production pin, approver), for anyone who may *view* the object. Here a revert:

- needs change permission on the current object (else 403),
- is refused with a message on a frozen object (``is_frozen``: an approved or archived version)
  and on an object that no longer exists,
- writes only the fields the change form would let this user edit onto the current object;
  every other field keeps its current value, so lifecycle fields move only through their methods.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

_REVERTING = "_history_revert_current"


def keep_fields_outside_form(obj, *, current, form) -> None:
    """Give ``obj`` (built from a history row) the current value of every field ``form`` does not edit."""
    for field in obj._meta.concrete_fields:
        if field.name not in form.fields:
            setattr(obj, field.attname, getattr(current, field.attname))


class GuardedHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose revert form goes through the change form's permission and lifecycle rules."""

    def revert_refusal(self, request, current) -> str:
        """Why the current object may not be reverted by anyone, or ''."""
        if current is None:
            return "This object no longer exists: it cannot be restored from its history."
        if getattr(current, "is_frozen", False):
            return (
                f"{current} is {getattr(current, 'status', 'frozen')} and cannot be reverted: "
                "a frozen version changes only through its lifecycle. Copy it to a new draft instead."
            )
        return ""

    def _current(self, obj):
        return None if obj is None else self.model._default_manager.filter(pk=obj.pk).first()

    def revert_disabled(self, request, obj=None):
        current = self._current(obj)
        return (
            super().revert_disabled(request, obj)
            or not self.has_change_permission(request, current)
            or bool(self.revert_refusal(request, current))
        )

    def _refuse_malformed_ids(self, object_id, version_id=None) -> None:
        """A malformed id in the URL is a page that does not exist (404), not a server error."""
        try:
            self.model._meta.pk.to_python(unquote(object_id))
            if version_id is not None:
                self.model.history.model._meta.pk.to_python(unquote(version_id))
        except ValidationError:
            raise Http404 from None

    def history_view(self, request, object_id, extra_context=None):
        self._refuse_malformed_ids(object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._refuse_malformed_ids(object_id, version_id)
        if request.method != "POST":
            return super().history_form_view(request, object_id, version_id, extra_context)
        current = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, current):
            raise PermissionDenied
        opts = self.opts
        refusal = self.revert_refusal(request, current)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            if current is None:
                return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
            return redirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[current.pk])
            )
        setattr(request, _REVERTING, current)
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)
        except ValidationError as exc:  # a model's save guard refused: nothing was written
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[current.pk])
            )
        finally:
            delattr(request, _REVERTING)

    def save_form(self, request, form, change):
        obj = super().save_form(request, form, change)
        current = getattr(request, _REVERTING, None)
        if current is not None:
            keep_fields_outside_form(obj, current=current, form=form)
        return obj
