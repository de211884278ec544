"""Extension points of the kernel's admin pages: apps add to a page, never replace it.

Each feature app registers its contributions in its own admin.py (imported by Django's admin
autodiscovery); the kernel ModelAdmins read this registry when a page is built, so they never
import a feature app. Every contribution carries an explicit ``order``: pages come out sorted by
it, never by ``INSTALLED_APPS`` or import order. The kernel's own sections carry orders too.

- ``register_section(model, title=..., fields=..., order=...)``: a fieldset on the change page.
  ``fields`` holds model field names and display functions (``@admin.display``), shown read-only.
- ``register_inline(model, InlineClass, order=...)``: an inline on the change page.
- ``register_column(model, display, order=..., annotations={...})``: a column of the model's lists
  (its changelist, and the kernel inlines that list the model), with the annotations it reads.
- ``register_object_tool(model, template=..., order=..., context=...)``: buttons on the change page.
- ``register_admin_url(model, route=..., view=..., name=...)``: a view under the model's admin URLs;
  ``view(model_admin, request, **kwargs)``; the name starts with ``<app_label>_<model_name>_``.
- ``register_action(model, function, order=..., allowed=...)``: an action of the model's changelist,
  ``function(model_admin, request, queryset)`` (``@admin.action(description=...)``), offered only
  to users for whom ``allowed(request)`` is true.

Sections interleave with the kernel's own by order (see each kernel admin's ``sections``; a page
without its own sections shows the contributed ones after its fields); inlines and columns follow the kernel's own, buttons precede them, each sorted by order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.admin.options import IS_POPUP_VAR
from django.db.models import Model
from django.template.loader import render_to_string
from django.urls import path


@dataclass(frozen=True)
class Section:
    """A fieldset of a change page, placed by ``order``."""

    order: int
    title: str | None
    fields: tuple
    classes: tuple[str, ...] = ()
    description: str = ""

    def fieldset(self) -> tuple:
        options: dict[str, Any] = {"fields": tuple(display_name(f) for f in self.fields)}
        if self.classes:
            options["classes"] = self.classes
        if self.description:
            options["description"] = self.description
        return (self.title, options)

    def displays(self) -> list[Callable]:
        return [f for f in self.fields if callable(f)]


@dataclass(frozen=True)
class Inline:
    order: int
    inline: type


@dataclass(frozen=True)
class Column:
    order: int
    display: Callable
    annotations: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return display_name(self.display)


@dataclass(frozen=True)
class ObjectTool:
    order: int
    template: str
    context: Callable | None = None


@dataclass(frozen=True)
class Action:
    order: int
    function: Callable
    allowed: Callable | None = None

    @property
    def name(self) -> str:
        return self.function.__name__


@dataclass(frozen=True)
class AdminUrl:
    route: str
    view: Callable
    name: str


def display_name(item) -> str:
    return item if isinstance(item, str) else item.__name__


class AdminExtensions:
    """The contributions to each model's admin pages. One instance serves the project: ``extensions``."""

    def __init__(self):
        self._items: dict[tuple[type[Model], str], list] = defaultdict(list)
        # Contributed display functions by model and name: a changelist looks names up per cell.
        self._displays: dict[type[Model], dict[str, Callable]] = {}

    def _add(self, model: type[Model], kind: str, item) -> None:
        if not isinstance(getattr(item, "order", 0), int):
            raise TypeError(
                f"The order of a contribution to the {model._meta.label} admin must be an integer."
            )
        self._items[(model, kind)].append(item)
        self._displays.pop(model, None)

    def _sorted(self, model: type[Model], kind: str) -> list:
        return sorted(self._items[(model, kind)], key=lambda item: item.order)

    def register_section(
        self, model, *, title: str | None, fields, order: int, classes=(), description: str = ""
    ) -> None:
        section = Section(
            order=order,
            title=title,
            fields=tuple(fields),
            classes=tuple(classes),
            description=description,
        )
        taken = {d.__name__ for s in self.sections(model) for d in s.displays()} | {
            c.name for c in self.columns(model)
        }
        clash = [d.__name__ for d in section.displays() if d.__name__ in taken]
        if clash:
            raise ValueError(
                f"{', '.join(clash)} is already contributed to the {model._meta.label} admin: name it differently."
            )
        self._add(model, "section", section)

    def register_inline(self, model, inline: type, *, order: int) -> None:
        self._add(model, "inline", Inline(order=order, inline=inline))

    def register_column(
        self, model, display: Callable, *, order: int, annotations: dict | None = None
    ) -> None:
        if any(c.name == display.__name__ for c in self.columns(model)):
            raise ValueError(
                f"A column {display.__name__} is already contributed to the {model._meta.label} admin."
            )
        self._add(
            model,
            "column",
            Column(order=order, display=display, annotations=dict(annotations or {})),
        )

    def register_object_tool(
        self, model, *, template: str, order: int, context: Callable | None = None
    ) -> None:
        self._add(model, "tool", ObjectTool(order=order, template=template, context=context))

    def register_admin_url(self, model, *, route: str, view: Callable, name: str) -> None:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if not name.startswith(prefix):
            raise ValueError(
                f"An admin URL of {model._meta.label} must be named {prefix}<something>, not {name}."
            )
        self._items[(model, "url")].append(AdminUrl(route=route, view=view, name=name))

    def register_action(
        self, model, function: Callable, *, order: int, allowed: Callable | None = None
    ) -> None:
        if any(a.name == function.__name__ for a in self.actions(model)):
            raise ValueError(
                f"An action {function.__name__} is already contributed to the {model._meta.label} admin."
            )
        self._add(model, "action", Action(order=order, function=function, allowed=allowed))

    def actions(self, model) -> list[Action]:
        return self._sorted(model, "action")

    def sections(self, model) -> list[Section]:
        return self._sorted(model, "section")

    def inlines(self, model) -> list[type]:
        return [item.inline for item in self._sorted(model, "inline")]

    def columns(self, model) -> list[Column]:
        return self._sorted(model, "column")

    def object_tools(self, model) -> list[ObjectTool]:
        return self._sorted(model, "tool")

    def urls(self, model) -> list[AdminUrl]:
        return list(self._items[(model, "url")])

    def display(self, model, name: str) -> Callable | None:
        """The contributed display function ``name`` of ``model``'s pages, or None."""
        displays = self._displays.get(model)
        if displays is None:
            displays = {}
            for section in self.sections(model):
                for display in section.displays():
                    displays.setdefault(display.__name__, display)
            displays.update((column.name, column.display) for column in self.columns(model))
            self._displays[model] = displays
        return displays.get(name)


extensions = AdminExtensions()
register_section = extensions.register_section
register_inline = extensions.register_inline
register_column = extensions.register_column
register_object_tool = extensions.register_object_tool
register_admin_url = extensions.register_admin_url
register_action = extensions.register_action


class _ContributedDisplays:
    """Contributed display functions are reachable by name, as Django looks up admin fields and columns."""

    extensions: AdminExtensions = extensions

    def __getattr__(self, name):
        model = self.__dict__.get("model") or getattr(type(self), "model", None)
        if model is not None and not name.startswith("_"):
            display = type(self).extensions.display(model, name)
            if display is not None:
                return display
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def with_column_annotations(self, queryset):
        annotations = {
            k: v
            for column in self.extensions.columns(self.model)
            for k, v in column.annotations.items()
        }
        return queryset.annotate(**annotations) if annotations else queryset

    def column_names(self) -> list[str]:
        return [column.name for column in self.extensions.columns(self.model)]


class ExtensibleInlineMixin(_ContributedDisplays):
    """For a kernel inline listing a model: the model's contributed columns join its fields."""

    def get_fields(self, request, obj=None):
        return [*super().get_fields(request, obj), *self.column_names()]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.column_names()]

    def get_queryset(self, request):
        return self.with_column_annotations(super().get_queryset(request))


class ExtensibleAdminMixin(_ContributedDisplays):
    """For a kernel ModelAdmin: composes its pages from its own ``sections`` and the registry.

    ``sections`` is the kernel's own part (``Section`` objects with orders); the apps'
    contributions are merged in by order. With ``all_fields_read_only`` every shown field is read-only.
    """

    sections: tuple[Section, ...] = ()
    all_fields_read_only = False

    # --- change page ----------------------------------------------------------------------------

    def composed_sections(self) -> list[Section]:
        return sorted(
            [*self.sections, *self.extensions.sections(self.model)], key=lambda s: s.order
        )

    def get_fieldsets(self, request, obj=None):
        if not self.sections:
            contributed = self.extensions.sections(self.model)
            own = super().get_fieldsets(request, obj)
            if not contributed:
                return own
            names = {display_name(f) for s in contributed for f in s.fields}
            own = [
                (title, {**options, "fields": [f for f in options["fields"] if f not in names]})
                for title, options in own
            ]
            return [*own, *(section.fieldset() for section in contributed)]
        return [section.fieldset() for section in self.composed_sections()]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self.all_fields_read_only and self.sections:
            names = [display_name(f) for s in self.composed_sections() for f in s.fields]
        else:
            names = [d.__name__ for s in self.extensions.sections(self.model) for d in s.displays()]
        return readonly + [n for n in names if n not in readonly]

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *self.extensions.inlines(self.model)]

    def get_urls(self):
        contributed = [
            path(url.route, self.admin_site.admin_view(partial(url.view, self)), name=url.name)
            for url in self.extensions.urls(self.model)
        ]
        return [*contributed, *super().get_urls()]

    def object_tools_html(self, request, obj) -> list[str]:
        tools = []
        for tool in self.extensions.object_tools(self.model):
            context = {
                "original": obj,
                "opts": self.model._meta,
                **(tool.context(request, obj) if tool.context else {}),
            }
            tools.append(render_to_string(tool.template, context, request=request))
        return tools

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["contributed_object_tools"] = (
            self.object_tools_html(request, obj) if obj is not None else []
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    # --- lists ----------------------------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        for action in self.extensions.actions(self.model):
            if action.allowed is None or action.allowed(request):
                description = self._get_action_description(action.function, action.name)
                actions[action.name] = (action.function, action.name, description)
        return actions

    def get_list_display(self, request):
        return [*super().get_list_display(request), *self.column_names()]

    def get_queryset(self, request):
        return self.with_column_annotations(super().get_queryset(request))
