"""The evals admin's own form pages (import, start a suite, request or approve a promotion)."""

from __future__ import annotations

from django.template.response import TemplateResponse


def _form_page(model_admin, request, *, title: str, original=None, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        "admin/evals/form_page.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "original": original,
            **context,
        },
    )
