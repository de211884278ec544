"""Helpers for the history-revert tests: read an admin form's data from its HTML and post it back."""

from __future__ import annotations

from html.parser import HTMLParser

from django.urls import reverse


class _FormData(HTMLParser):
    """The data a browser would submit from the page's model form (not the logout form)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = (a.get("id") or "").endswith("_form") and a.get("id") != "logout-form"
        if not self._in_form:
            return
        if tag == "input":
            kind, name = a.get("type", "text"), a.get("name")
            if not name or kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self._add(name, a.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select" and a.get("name"):
            self._select, self._options = (a["name"], "multiple" in a), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self._add(
                self._textarea, text[1:] if text.startswith("\n") else text
            )  # browsers drop that newline
            self._textarea = None
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            for value in chosen:
                self._add(name, value)
            self._select = None


def form_data(html: str) -> dict[str, list[str]]:
    parser = _FormData()
    parser.feed(html)
    return parser.data


def history_url(obj, history_id) -> str:
    opts = obj._meta
    return reverse(
        f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, history_id]
    )


def revert_form_data(client, obj, history_id) -> dict[str, list[str]]:
    """What the revert page of ``obj``'s history row shows to the logged-in user, as form data."""
    page = client.get(history_url(obj, history_id))
    assert page.status_code == 200, (obj, page.status_code)
    return form_data(page.content.decode())


def stored_row(obj) -> dict:
    return type(obj)._default_manager.filter(pk=obj.pk).values().get()
