"""Forms generated from each action type's pydantic Inputs, plus workflow and trigger forms.

The forms only turn posted text into JSON values (numbers, JSON documents, expressions kept as
text); every rule about what is valid lives in the action type and is applied by the services,
whose errors come back onto the field they concern.
"""

from __future__ import annotations

import json
import types
import typing
from typing import TYPE_CHECKING, Any, Literal, cast

from django import forms

from workflows.actions import get_action_type
from workflows.actions.base import walk_strings
from workflows.expressions import is_expression, syntax_error
from workflows.models import Action

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from access.models import SecurityGroup

INPUT_PREFIX = "in__"
LONG_TEXT = {"body", "text", "html", "message"}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `None`, and whether None was allowed."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def field_kind(annotation: Any) -> str:
    """How a field is edited: choice, bool, number, json (object/list), value (Any) or text."""
    inner, _ = _unwrap(annotation)
    origin = typing.get_origin(inner)
    if origin is Literal:
        return "choice"
    if inner is bool:
        return "bool"
    if inner in (int, float):
        return "number"
    if origin in (dict, list) or inner in (dict, list):
        return "json"
    if inner is Any:
        return "value"
    return "text"


def _as_text(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "bool":
        return bool(value)
    if isinstance(value, str):
        return value
    if kind in {"json", "value"}:
        return json.dumps(value, indent=2)
    return str(value)


def _expression_attrs(name: str, kind: str, check_url: str) -> dict[str, str]:
    return {
        "class": "expression", "data-expression": "1", "autocomplete": "off",
        "hx-post": check_url, "hx-trigger": "input changed delay:300ms",
        "hx-target": f"#check-{name}", "hx-swap": "innerHTML",
        "hx-vals": json.dumps({"field": name, "kind": kind}),
    }


def flat_object_values(annotation: Any) -> str:
    """For an object input edited as key/value rows: "text" (values are strings) or "any";
    "" when the input is not a flat object."""
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is not dict:
        return ""
    value_type = typing.get_args(inner)[1] if typing.get_args(inner) else Any
    return "text" if value_type is str else "any"


class InputField(forms.CharField):
    """An input's text box; `sent` shows a saved object or list as it will be sent."""

    sent = ""


class ActionForm(forms.Form):
    """The side panel of one block: its inputs, then name and error handling."""

    name = forms.CharField(max_length=63)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    retry_max_attempts = forms.CharField(required=False, label="Retry: attempts")
    retry_backoff_seconds = forms.CharField(required=False, label="Retry: backoff (s)")
    timeout_seconds = forms.CharField(required=False, label="Step timeout (s)")
    continue_on_error = forms.BooleanField(required=False)

    def __init__(self, *args: Any, action: Action, check_url: str = "", **kwargs: Any):
        self.action = action
        self.action_type = get_action_type(action.type)
        self.kinds: dict[str, tuple[str, str, bool]] = {}  # field -> (input key, kind, required)
        if "data" not in kwargs and not args:
            kwargs["initial"] = self._initial(action)
        super().__init__(*args, **kwargs)
        input_fields: dict[str, forms.Field] = {}
        for attribute, info in self.action_type.Inputs.model_fields.items():
            key = info.alias or attribute
            field_name = INPUT_PREFIX + key
            kind = field_kind(info.annotation)
            self.kinds[field_name] = (key, kind, info.is_required())
            input_fields[field_name] = self._input_field(key, info, kind, check_url)
        self.fields = {**input_fields, **self.fields}
        self.fields["name"].label = "Block name"
        self.fields["name"].widget.attrs["pattern"] = "[a-z_][a-z0-9_]{0,62}"
        if self.action_type.category == "structural":  # a branch or a loop is never retried
            for name in ("retry_max_attempts", "retry_backoff_seconds", "timeout_seconds"):
                del self.fields[name]

    @staticmethod
    def _initial(action: Action) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for attr, info in get_action_type(action.type).Inputs.model_fields.items():
            key, kind = info.alias or attr, field_kind(info.annotation)
            # A checkbox has no "empty": show the default so saving keeps it.
            default = info.get_default(call_default_factory=True) if kind == "bool" else None
            values[INPUT_PREFIX + key] = _as_text(action.inputs.get(key, default), kind)
        retry = action.retry or {}
        return {
            **values,
            "name": action.name, "description": action.description,
            "retry_max_attempts": retry.get("max_attempts", ""),
            "retry_backoff_seconds": retry.get("backoff_seconds", ""),
            "timeout_seconds": action.timeout_seconds or "",
            "continue_on_error": action.continue_on_error,
        }

    def _input_field(self, key: str, info: Any, kind: str, check_url: str) -> forms.Field:
        help_text = "" if info.is_required() else _default_text(info)
        label = input_label(key, info) + (" *" if info.is_required() else "")
        if kind == "bool":
            return forms.BooleanField(required=False, label=label, help_text=help_text)
        if kind == "choice":
            inner, _ = _unwrap(info.annotation)
            choices = [("", "(default)")] if not info.is_required() else []
            choices += [(str(c), str(c)) for c in typing.get_args(inner)]
            return forms.ChoiceField(required=False, choices=choices, label=label,
                                     help_text=help_text)
        attrs = _expression_attrs(INPUT_PREFIX + key, kind, check_url) if check_url else {}
        if kv := flat_object_values(info.annotation):
            attrs["data-kv"] = kv
        if kind == "json" or (kind in {"value", "text"} and key in LONG_TEXT | {"json"}):
            widget: forms.Widget = forms.Textarea(attrs={**attrs, "rows": 3})
        else:
            widget = forms.TextInput(attrs=attrs)
        if kind == "json":
            help_text = ("JSON, or one expression. Text inside may hold {{ expressions }}. "
                         + help_text).strip()
        elif kind == "value":
            help_text = ("Text, JSON or an expression; JSON may hold {{ expressions }} in its "
                         "strings. " + help_text).strip()
        field = InputField(required=False, strip=False, label=label, widget=widget,
                           help_text=help_text)
        stored = self.action.inputs.get(key)
        if kind in {"json", "value"} and isinstance(stored, dict | list):
            field.sent = json.dumps(stored, indent=2, ensure_ascii=False)
        return field

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        inputs: dict[str, Any] = {}
        for field_name, (key, kind, _required) in self.kinds.items():
            raw = data.get(field_name)
            try:
                value = parse_input(raw, kind)
            except ValueError as exc:
                self.add_error(field_name, str(exc))
                continue
            if value is not _OMIT:
                inputs[key] = value
        data["inputs"] = inputs
        retry = {}
        for key in ("max_attempts", "backoff_seconds"):
            if (raw := (data.get(f"retry_{key}") or "").strip()) != "":
                retry[key] = raw
        data["retry"] = {**{k: v for k, v in (self.action.retry or {}).items()
                            if k not in {"max_attempts", "backoff_seconds"}}, **retry}
        return data

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Place each service error at its field: inputs.url -> in__url, retry.x -> retry_x."""
        for key, messages in errors.items():
            field = None
            if key.startswith("inputs."):
                top = key.removeprefix("inputs.").split(".")[0].split("[")[0]
                field = INPUT_PREFIX + top if INPUT_PREFIX + top in self.fields else None
                messages = [m if field and key.count(".") == 1 and "[" not in key
                            else f"{key.removeprefix('inputs.')}: {m}" for m in messages]
            elif key.startswith("retry."):
                field = "retry_" + key.removeprefix("retry.")
            elif key in self.fields:
                field = key
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


_OMIT = object()
# Words a generated label would get wrong; an input's own `Field(title=...)` comes first.
LABEL_WORDS = {"url": "URL", "json": "JSON body", "html": "HTML", "cc": "Cc", "bcc": "Bcc"}


def input_label(key: str, info: Any) -> str:
    return info.title or LABEL_WORDS.get(key) or key.replace("_", " ").capitalize()



def _default_text(info: Any) -> str:
    default = info.get_default(call_default_factory=True)
    if default in (None, "", [], {}):
        return "Optional."
    return f"Default: {json.dumps(default)}."


def parse_input(raw: Any, kind: str) -> Any:
    """Posted text to the JSON value stored in the definition; empty means the default.

    JSON comes first: `{"order": "{{ item.id }}"}` is an object whose string leaves hold
    expressions (each rendered on its own), never one template producing text."""
    if kind == "bool":
        return bool(raw)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return _OMIT
    text = raw.strip()
    if kind in {"json", "value"} and (structure := _structure(text, kind)) is not _OMIT:
        return structure
    if is_expression(text):
        return text
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("Enter a number, or an expression like {{ vars.count }}.") from None
        return int(number) if number.is_integer() and "." not in text else number
    return raw if kind == "text" else text


def _structure(text: str, kind: str) -> Any:
    """The JSON document `text` holds, or _OMIT when it is text or one expression. Text that
    opens like a JSON object but does not parse is refused rather than sent as a string."""
    if text.startswith(("{{", "{%", "{#")) and is_expression(text):
        return _OMIT
    if kind == "value" and text[:1] not in "[{":
        return _OMIT
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if kind == "json" or text[:1] == "{":
            raise ValueError(json_problem(exc, text, kind)) from None
        return _OMIT


def json_problem(exc: json.JSONDecodeError, text: str, kind: str) -> str:
    lead = ("Enter valid JSON" if kind == "json"
            else "This looks like a JSON object but is not valid JSON")
    near = text[max(exc.pos - 1, 0):exc.pos + 2]  # the parser stops inside a bare `{{`
    bare_expression = "{{" in near or "{%" in near
    hint = (' Put each {{ expression }} inside a JSON string: "{{ item.id }}".'
            if bare_expression else "")
    return f"{lead}: {exc.msg} (line {exc.lineno}, column {exc.colno}).{hint}"


def check_input_text(text: str, kind: str) -> tuple[str, str]:
    """What the editor says under a field as the user types: (problem, description)."""
    try:
        value = parse_input(text, kind)
    except ValueError as exc:
        return str(exc), ""
    if isinstance(value, str):
        return (syntax_error(value) or "") if is_expression(value) else "", ""
    problems = [f"{path or 'value'}: {problem}" for path, problem in _leaf_syntax_errors(value)]
    if problems:
        return "; ".join(problems[:3]), ""
    if isinstance(value, dict | list):
        count = len(_expression_leaves(value))
        shape = f"a JSON object of {len(value)} field(s)" if isinstance(value, dict) else (
            f"a JSON list of {len(value)} item(s)")
        return "", f"Sent as {shape}" + (f"; {count} value(s) come from expressions, each "
                                           "keeping its type." if count else ".")
    return "", ""


def _expression_leaves(value: Any) -> list[tuple[str, str]]:
    return [(path, text) for path, text in walk_strings(value, "") if is_expression(text)]


def _leaf_syntax_errors(value: Any) -> list[tuple[str, str]]:
    return [(path, problem) for path, source in _expression_leaves(value)
            if (problem := syntax_error(source))]


class WorkflowCreateForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class WorkflowImportForm(forms.Form):
    """A workflow document, uploaded or pasted; what it holds is checked by the import rules."""

    file = forms.FileField(required=False, label="JSON file")
    document = forms.CharField(required=False, label="Or paste the JSON",
                               widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}))
    publish = forms.BooleanField(required=False, label="Publish it as a new version")
    note = forms.CharField(required=False, max_length=500, label="Version note")

    def raw_document(self, limit: int) -> bytes:
        """The document's bytes, read no further than one byte past `limit`."""
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is not None:
            head: bytes = upload.read(limit + 1)  # File proxies read() untyped
            return head
        document: str = self.cleaned_data["document"]
        return document.encode()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("file") and not (data.get("document") or "").strip():
            self.add_error("document", "Choose a file or paste a document.")
        elif data.get("file") and (data.get("document") or "").strip():
            self.add_error("document", "Choose a file or paste a document, not both.")
        return data


class WorkflowSettingsForm(forms.Form):
    name = forms.CharField(max_length=63)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(required=False, help_text="Comma separated.")
    concurrency_limit = forms.IntegerField(required=False, min_value=1)
    perimeters: forms.ModelMultipleChoiceField[SecurityGroup] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, **kwargs: Any):
        from access.models import SecurityGroup

        super().__init__(*args, **kwargs)
        field = cast("forms.ModelMultipleChoiceField[SecurityGroup]", self.fields["perimeters"])
        field.queryset = SecurityGroup.objects.order_by("name")

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
