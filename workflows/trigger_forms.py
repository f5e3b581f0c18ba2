"""The editor's trigger form: name, access, and each setting its trigger type declares as a
field of its own (`TriggerType.settings_fields`), the rest in a JSON box."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from django import forms

from workflows.models import Trigger
from workflows.triggers import get_trigger_type
from workflows.triggers.base import SettingField

if TYPE_CHECKING:
    from access.models import SecurityGroup


SETTING_PREFIX = "s__"


class TriggerForm(forms.Form):
    """A trigger's name, access and settings: each setting its type declares is a field of its
    own (`TriggerType.settings_fields`), any other key stays in the JSON box."""

    name = forms.CharField(max_length=63)
    access = forms.ChoiceField(choices=Trigger.Access.choices)
    access_group: forms.ModelChoiceField[SecurityGroup] = forms.ModelChoiceField(
        queryset=None, required=False)
    settings = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                               label="Other settings (JSON)", help_text="A JSON object.")

    def __init__(self, *args: Any, trigger_type: str = "", **kwargs: Any):
        from access.models import SecurityGroup

        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[SecurityGroup]", self.fields["access_group"])
        field.queryset = SecurityGroup.objects.order_by("name")
        self.setting_fields = get_trigger_type(trigger_type).settings_fields if (
            trigger_type) else ()
        fields = {SETTING_PREFIX + s.key: _setting_form_field(s) for s in self.setting_fields}
        self.fields = {"name": self.fields["name"], **fields,
                       **{k: v for k, v in self.fields.items() if k != "name"}}

    def clean_settings(self) -> Any:
        text = self.cleaned_data["settings"].strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Enter valid JSON: {exc.msg} (line {exc.lineno}, "
                                        f"column {exc.colno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        merged = dict(data.get("settings") or {})
        for setting in self.setting_fields:
            name = SETTING_PREFIX + setting.key
            in_json = merged.pop(setting.key, None)
            try:
                value = _setting_value(setting, data.get(name))
            except ValueError as exc:
                self.add_error(name, str(exc))
                continue
            if value is not None and in_json is not None and value != in_json:
                self.add_error("settings", f"`{setting.key}` is set both in its field and "
                                           "here: keep one.")
            if (value if value is not None else in_json) is not None:
                merged[setting.key] = value if value is not None else in_json
        data["settings"] = merged
        return data

    def field_for_setting(self, key: str) -> str:
        """The form field that shows a setting's error: its own, else the JSON box."""
        return SETTING_PREFIX + key if SETTING_PREFIX + key in self.fields else "settings"

    @classmethod
    def for_trigger(cls, trigger: Trigger, **kwargs: Any) -> TriggerForm:
        settings = dict(trigger.settings or {})
        fields = get_trigger_type(trigger.type).settings_fields
        initial: dict[str, Any] = {
            SETTING_PREFIX + s.key: _setting_initial(s, settings.pop(s.key, None))
            for s in fields}
        return cls(prefix=f"t{trigger.pk.hex[:8]}", trigger_type=trigger.type, initial={
            "name": trigger.name, "access": trigger.access,
            "access_group": trigger.access_group_id, **initial,
            "settings": json.dumps(settings, indent=2) if settings else ""}, **kwargs)


def _setting_form_field(setting: SettingField) -> forms.Field:
    options: dict[str, Any] = {"required": False, "label": setting.label,
                               "help_text": setting.help}
    if setting.kind == "bool":
        return forms.BooleanField(**options)
    if setting.kind == "choice":
        return forms.ChoiceField(choices=[("", "(default)")] + [(c, c) for c in setting.choices],
                                 **options)
    if setting.kind == "multichoice":
        return forms.MultipleChoiceField(choices=[(c, c) for c in setting.choices],
                                         widget=forms.CheckboxSelectMultiple, **options)
    if setting.kind == "json":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
                               strip=False, **options)
    return forms.CharField(**options)


def _setting_initial(setting: SettingField, value: Any) -> Any:
    if value is None:
        return None
    if setting.kind == "json":
        return json.dumps(value, indent=2)
    return value if setting.kind in {"bool", "multichoice"} else str(value)


def _setting_value(setting: SettingField, raw: Any) -> Any:
    """A field's posted value as the setting stores it; None leaves the setting out."""
    if setting.kind == "bool":
        return True if raw else None
    if setting.kind == "multichoice":
        return list(raw) if raw else None
    text = str(raw or "").strip()
    if not text:
        return None
    if setting.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("Enter a number.") from None
        return int(number) if number.is_integer() else number
    if setting.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Enter valid JSON: {exc.msg} (line {exc.lineno}, "
                             f"column {exc.colno}).") from None
    return text
