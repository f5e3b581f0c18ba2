"""Forms for environments, variables, connections and security groups.

Secret inputs are write-only: they render empty (with a "set" hint) and a blank submission keeps
the stored value.
"""

from __future__ import annotations

from typing import Any

from django import forms

from environments.models import Connection, Environment, slug_validator, variable_name_validator

SECRET_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=63, validators=[slug_validator])
    label = forms.CharField(max_length=100, required=False)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if Environment.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An environment named {name} exists already.")
        return name


class VariableForm(forms.Form):
    name = forms.CharField(max_length=128, validators=[variable_name_validator])
    is_secret = forms.BooleanField(required=False, label="Secret (write-only, encrypted)")
    value = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text="For a secret already set, leave empty to keep it.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("is_secret") and not data.get("value"):
            self.add_error("value", "Give a value.")
        return data


KIND_FIELDS: dict[str, tuple[list[str], list[str]]] = {
    # kind: (plain config fields, secret fields)
    "http": (["base_url", "auth_type", "username", "header_name", "health_path"],
             ["token", "password", "header_value"]),
    "smtp": (["host", "port", "username", "from_email", "use_tls", "use_ssl"], ["password"]),
    "slack": (["api_base"], ["webhook_url", "bot_token"]),
}


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=63, validators=[slug_validator])
    kind = forms.ChoiceField(choices=Connection.Kind.choices)
    base_url = forms.URLField(required=False, assume_scheme="https", label="Base URL")
    auth_type = forms.ChoiceField(required=False, choices=[
        ("none", "none"), ("bearer", "bearer token"), ("basic", "basic"), ("header", "header")])
    username = forms.CharField(required=False)
    header_name = forms.CharField(required=False, label="Header name (header auth)")
    health_path = forms.CharField(required=False, label="Path checked by Test")
    host = forms.CharField(required=False, label="Host")
    port = forms.IntegerField(required=False, min_value=1, max_value=65535)
    from_email = forms.EmailField(required=False)
    use_tls = forms.BooleanField(required=False, label="STARTTLS")
    use_ssl = forms.BooleanField(required=False, label="SSL")
    api_base = forms.URLField(required=False, assume_scheme="https", label="API base")
    token = forms.CharField(required=False, widget=SECRET_WIDGET, label="Bearer token")
    password = forms.CharField(required=False, widget=SECRET_WIDGET)
    header_value = forms.CharField(required=False, widget=SECRET_WIDGET)
    webhook_url = forms.CharField(required=False, widget=SECRET_WIDGET,
                                  label="Incoming webhook URL")
    bot_token = forms.CharField(required=False, widget=SECRET_WIDGET, label="Bot token")

    def chosen_kind(self) -> str:
        """The kind the form shows fields for: the posted one, else the initial, else HTTP."""
        raw = self["kind"].value()
        return raw if raw in KIND_FIELDS else "http"

    def fields_by_kind(self) -> list[tuple[Any, str]]:
        """Each settings field with the kinds it applies to (space separated), so the page
        shows only the chosen kind's fields."""
        kinds: dict[str, list[str]] = {}
        for kind, (plain, secret) in KIND_FIELDS.items():
            for name in [*plain, *secret]:
                kinds.setdefault(name, []).append(kind)
        return [(self[name], " ".join(kinds[name])) for name in self.fields if name in kinds]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind == "http" and not data.get("base_url"):
            self.add_error("base_url", "An HTTP connection needs a base URL.")
        if kind == "smtp" and not data.get("host"):
            self.add_error("host", "An SMTP connection needs a host.")
        return data

    def config(self) -> dict[str, Any]:
        plain, _ = KIND_FIELDS[self.cleaned_data["kind"]]
        return {f: self.cleaned_data[f] for f in plain
                if self.cleaned_data.get(f) not in (None, "", False)}

    def secret_values(self) -> dict[str, str]:
        _, secret = KIND_FIELDS[self.cleaned_data["kind"]]
        return {f: self.cleaned_data.get(f) or "" for f in secret}


class RightsForm(forms.Form):
    can_view = forms.BooleanField(required=False)
    can_edit = forms.BooleanField(required=False)
    can_run = forms.BooleanField(required=False)
    can_approve = forms.BooleanField(required=False)
    can_call_triggers = forms.BooleanField(required=False)
    is_admin = forms.BooleanField(required=False)
    deploy_environments = forms.ModelMultipleChoiceField(
        queryset=Environment.objects.all(), required=False,
        widget=forms.CheckboxSelectMultiple)


class GroupCreateForm(forms.Form):
    name = forms.CharField(max_length=63, validators=[slug_validator])
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
