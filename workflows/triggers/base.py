"""The contract every trigger type fulfils, and the checks several types share.

A trigger type is one module: its label, the settings a new trigger starts with, the check of
its settings (each problem named by its settings field) and its starter: what the editor shows
about how runs of such a trigger start (URLs, next fire times). It only describes; starting
runs is `runner`'s job, and this package never imports `runner` nor, at import time, the models
(`workflows.models` derives `Trigger.type`'s choices from the registry).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from workflows.models import Trigger, Workflow

Problem = tuple[str, str]  # (settings field, message)


@dataclass(frozen=True)
class Starter:
    """How runs of one trigger start, for its card in the editor.

    `summary` says it in a sentence; `template`, when set, is the type's partial that shows
    `info` (it is included with `info` in its context).
    """

    summary: str
    template: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SettingField:
    """One setting as the editor's trigger form shows it. `kind`: text, number, bool, json
    (an object, e.g. a JSON Schema), choice or multichoice (a list of `choices`)."""

    key: str
    label: str
    kind: str = "text"
    choices: tuple[str, ...] = ()
    help: str = ""


INPUT_SCHEMA = SettingField("json_schema", "Input schema (JSON Schema)", "json",
                            help="Each run's input is checked against it; empty: any input.")
OUTPUT_SCHEMA = SettingField("output_schema", "Output schema (JSON Schema)", "json",
                             help="What the run hands back must match it; empty: anything.")


class TriggerType:
    """One kind of trigger. Subclasses set the class attributes and override what they need."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    # Settings of a trigger added in the editor; copied, never shared.
    defaults: ClassVar[dict[str, Any]] = {}
    # "group" when calls come from outside and must be authenticated, else "public".
    default_access: ClassVar[str] = "public"
    # Settings the defaults leave for the user to fill in; their problems wait for that edit.
    filled_in_later: ClassVar[tuple[str, ...]] = ()
    # What a run started this way reads beyond `trigger.body`, for the editor's suggestions.
    input_fields: ClassVar[tuple[str, ...]] = ()
    # The settings the editor's form shows as fields; any other key stays in its JSON box.
    settings_fields: ClassVar[tuple[SettingField, ...]] = ()

    def default_settings(self) -> dict[str, Any]:
        """A fresh copy of the defaults, safe to change."""
        return copy.deepcopy(self.defaults)

    def check(self, values: dict[str, Any]) -> list[Problem]:
        """Every problem of `values` as (settings field, message); empty when valid."""
        return []

    def starter(self, workflow: Workflow, trigger: Trigger) -> Starter:
        """What the editor shows about how runs of `trigger` start."""
        return Starter(summary=self.description)


def json_schema_problems(values: dict[str, Any],
                         keys: tuple[str, ...] = ("json_schema",)) -> list[Problem]:
    """Each of these settings (`json_schema` for the input, `output_schema` for what the run
    answers), when given, must itself be a valid JSON Schema."""
    problems: list[Problem] = []
    for key in keys:
        schema = values.get(key)
        if schema is None:
            continue
        from jsonschema import Draft202012Validator  # only documents with a schema need it

        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # noqa: BLE001 - jsonschema's SchemaError and friends
            problems.append((key, f"not a valid JSON Schema: {str(exc)[:200]}"))
    return problems
