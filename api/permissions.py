"""Every API view names the model permissions it needs, per method, as the admin page does."""

from __future__ import annotations

from rest_framework import exceptions, permissions


class HasRequiredPermissions(permissions.BasePermission):
    """An authenticated token whose user holds every permission the view names for the method.

    ``required_permissions = {"GET": ["workflows.view_run"], "POST": [...]}``; a method the view
    does not list is refused (no view is open by omission).
    """

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated(
                "Send a personal API token: 'Authorization: Bearer <token>'."
            )
        if request.method not in ("HEAD", "OPTIONS") and not hasattr(view, request.method.lower()):
            return True  # the view answers 405 Method Not Allowed
        needed = getattr(view, "required_permissions", {}).get(request.method)
        if needed is None and request.method in ("HEAD", "OPTIONS"):
            needed = getattr(view, "required_permissions", {}).get("GET")
        if needed is None:
            return False
        missing = [perm for perm in needed if not request.user.has_perm(perm)]
        if missing:
            raise exceptions.PermissionDenied(
                f"{request.user} lacks the permission this needs ({', '.join(missing)}): "
                "ask an administrator for the role that has it."
            )
        return True
