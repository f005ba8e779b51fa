"""Rendering outreach emails from templates with merge fields, and the checks before sending.

Templates are written by users, so they run in a sandbox that can only look up merge data:
no attributes, no method calls, nothing outside the dictionaries it is given. A missing or
empty merge field is an error with a clear message, never a silent blank in a real email.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

# What templates can use; documented in the template editor.
MERGE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("first_name", "last_name", "full_name", "email", "role"),
    "prospect": ("domain", "page_url"),
    "asset": ("title", "url"),
    "campaign": ("name", "client_url"),
    "sender": ("name", "email"),
}
# The prospect's own custom fields ({{ custom.topic }}): whatever names the prospect has.
CUSTOM_GROUP = "custom"

# Hand-written placeholders that were never filled in: [NAME], {FIRST_NAME}, %NAME%, <<NAME>>.
LEFTOVER_PLACEHOLDER = re.compile(
    r"\[[A-Z][A-Z0-9 _-]{1,30}\]|\{[A-Z][A-Z0-9_]{1,30}\}|%[A-Z][A-Z0-9_]{1,30}%"
    r"|<<[A-Za-z][A-Za-z0-9 _]{1,30}>>|\{\{|\}\}"
)


class TemplateError(ValueError):
    """Why a template cannot be rendered or sent as it is; the message is for the user."""

    def __init__(self, message: str, part: str = "body") -> None:
        super().__init__(message)
        self.part = part


class MissingField(StrictUndefined):
    """An unknown or empty merge field: false in `{% if %}`, replaced by `default`, and an
    error (with its hint) when printed."""

    def __bool__(self) -> bool:
        return False


class MergeSandbox(SandboxedEnvironment):
    """A sandbox in which `a.b` only looks up key "b" of the merge data."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            if attribute in obj:
                value = obj[attribute]
                if value in ("", None):
                    return self.undefined(
                        hint=(
                            f"{{{{ {obj.get('_name', '?')}.{attribute} }}}} is empty for this "
                            f"prospect: fill it in, or write "
                            f"{{{{ {obj.get('_name', '?')}.{attribute} | default('…') }}}}"
                        ),
                        name=attribute,
                    )
                return value
            known = ", ".join(name for name in obj if not name.startswith("_"))
            return self.undefined(
                hint=(
                    f"{{{{ {obj.get('_name', '?')}.{attribute} }}}} is not a merge field "
                    f"(there is: {known})"
                ),
                name=attribute,
            )
        return self.undefined(hint=f"{attribute!r} cannot be looked up here", name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self.getattr(obj, str(argument))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise SecurityError("templates cannot call functions")


_ENVIRONMENT = MergeSandbox(undefined=MissingField, autoescape=False, keep_trailing_newline=True)
# No range(), cycler, lipsum and friends: only the merge data is in scope.
_ENVIRONMENT.globals.clear()


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def merge_context(data: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The merge data as the sandbox sees it, each group knowing its own name for messages."""
    missing_group = {"_name": ""}
    context: dict[str, dict[str, Any]] = {}
    for group, fields in MERGE_FIELDS.items():
        values = data.get(group, missing_group)
        context[group] = {"_name": group, **{name: values.get(name, "") for name in fields}}
    context[CUSTOM_GROUP] = {"_name": CUSTOM_GROUP, **data.get(CUSTOM_GROUP, {})}
    return context


@lru_cache(maxsize=512)
def check_syntax(source: str, part: str) -> None:
    """Refuse bad syntax and names that are not merge groups, at save time already.
    Cached: a sequence step renders the same source for every prospect."""
    try:
        tree = _ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        message = f"{part.capitalize()}, line {exc.lineno}: {exc.message}"
        raise TemplateError(message, part) from None
    unknown = sorted(meta.find_undeclared_variables(tree) - {*MERGE_FIELDS, CUSTOM_GROUP})
    if not unknown and any(node.name == "self" for node in tree.find_all(nodes.Name)):
        unknown = ["self"]
    if unknown:
        groups = ", ".join([*MERGE_FIELDS, CUSTOM_GROUP])
        message = f"{part.capitalize()}: {{{{ {unknown[0]} }}}} is not a merge field (use {groups})"
        raise TemplateError(message, part)
    problem = _escape_attempt(tree)
    if problem:
        raise TemplateError(f"{part.capitalize()}: {problem}", part)


def _looked_up(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    return str(node.arg.value) if isinstance(node.arg, nodes.Const) else None


def _escape_attempt(tree: nodes.Template) -> str | None:
    """Why the template reaches for more than merge fields, or None. The sandbox refuses all
    of it when rendering too; refusing it here tells the writer at once, when saving."""
    if any(tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))):
        return "templates cannot include, import or extend other templates"
    if any(tree.find_all(nodes.Call)):
        return "templates cannot call functions; use merge fields such as {{ contact.first_name }}"
    if any(node.name == "attr" for node in tree.find_all(nodes.Filter)):
        return "the attr filter is not available; write {{ contact.first_name }}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _looked_up(node)
        if not isinstance(node.node, nodes.Name) or name is None:
            return "only merge fields such as {{ contact.first_name }} can be looked up"
        if name.startswith("_"):
            return f"{{{{ {node.node.name}.{name} }}}} is not a merge field"
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return _ENVIRONMENT.from_string(source)


def _render_part(source: str, context: dict[str, Any], part: str) -> str:
    check_syntax(source, part)
    try:
        text = _compiled(source).render(context)
    except UndefinedError as exc:
        message = exc.message or "a merge field is missing"
        raise TemplateError(f"{part.capitalize()}: {message}", part) from None
    except SecurityError as exc:
        raise TemplateError(f"{part.capitalize()}: {exc}", part) from None
    leftover = LEFTOVER_PLACEHOLDER.search(text)
    if leftover:
        raise TemplateError(
            f"{part.capitalize()} still contains the placeholder {leftover.group(0)!r}; "
            "replace it with a merge field such as {{ contact.first_name }}",
            part,
        )
    return text


def render_email(subject: str, body: str, data: Mapping[str, Mapping[str, Any]]) -> RenderedEmail:
    """Subject and body with the merge data filled in; raises TemplateError."""
    context = merge_context(data)
    rendered_subject = " ".join(_render_part(subject, context, "subject").split())
    if not rendered_subject:
        raise TemplateError("Subject: the subject is empty", "subject")
    return RenderedEmail(subject=rendered_subject, body=_render_part(body, context, "body"))
