"""`http`: a call to the workflow's generated URL, `/hooks/<environment>/<workflow>`.

The call itself is taken by `runner.hooks`; this module describes the settings and what the
editor shows: the URL and a ready curl command per environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflows.triggers.base import (
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    Problem,
    SettingField,
    Starter,
    TriggerType,
    json_schema_problems,
)

if TYPE_CHECKING:
    from workflows.models import Trigger, Workflow

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
MAX_TIMEOUT_SECONDS = 60


class HttpTrigger(TriggerType):
    name = "http"
    label = "HTTP call"
    description = "A call to the workflow's URL in an environment, from a caller allowed in."
    defaults = {"methods": ["POST"], "mode": "async"}
    default_access = "group"  # a URL reachable from outside is never public by default
    input_fields = ("trigger.method", "trigger.path", "trigger.query", "trigger.headers")
    settings_fields = (
        SettingField("methods", "Methods", "multichoice", tuple(sorted(HTTP_METHODS))),
        SettingField("mode", "Mode", "choice", ("async", "sync"),
                     "async: the caller gets 202 and a status URL at once; sync: it waits "
                     "for the run's Respond block."),
        SettingField("timeout", "Wait for the answer (s, sync)", "number",
                     help=f"At most {MAX_TIMEOUT_SECONDS}."),
        INPUT_SCHEMA, OUTPUT_SCHEMA,
        SettingField("max_body_bytes", "Largest body (bytes)", "number"),
        SettingField("rate_limit_per_minute", "Calls per minute at most", "number"),
    )

    def check(self, values: dict[str, Any]) -> list[Problem]:
        return [
            *_methods_problems(values.get("methods", ["POST"])),
            *_mode_problems(values.get("mode", "async")),
            *_timeout_problems(values.get("timeout", 10)),
            *json_schema_problems(values, ("json_schema", "output_schema")),
            *_positive_int_problems(values, ("max_body_bytes", "rate_limit_per_minute")),
        ]

    def starter(self, workflow: Workflow, trigger: Trigger) -> Starter:
        from workflows.selectors import draft_trigger_examples

        return Starter(summary=self.description, template="workflows/triggers/_http.html",
                       info={"hooks": draft_trigger_examples(workflow, trigger)})


def _methods_problems(methods: Any) -> list[Problem]:
    if isinstance(methods, list) and methods and set(methods) <= HTTP_METHODS:
        return []
    return [("methods", f"use a list of {sorted(HTTP_METHODS)}")]


def _mode_problems(mode: Any) -> list[Problem]:
    return [] if mode in {"sync", "async"} else [("mode", "use 'sync' or 'async'")]


def _timeout_problems(timeout: Any) -> list[Problem]:
    if isinstance(timeout, int | float) and 0 < timeout <= MAX_TIMEOUT_SECONDS:
        return []
    return [("timeout", f"use a number of seconds between 0 and {MAX_TIMEOUT_SECONDS}")]


def _positive_int_problems(values: dict[str, Any], keys: tuple[str, ...]) -> list[Problem]:
    return [(key, "use a positive integer") for key in keys
            if values.get(key) is not None
            and (not isinstance(values[key], int) or values[key] < 1)]
