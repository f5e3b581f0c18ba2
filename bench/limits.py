"""What the expression limits and the secret tracking cost a step, against plain Jinja.

A typical step's inputs (a URL, headers, a JSON body with a dozen fields, a loop over 100
items) are rendered three ways in the same process: by OwlGrid's renderer with its budgets on
(`expression_render_us`), the same with a secret variable in the data (`..._with_secret_us`),
and by Jinja's own ImmutableSandboxedEnvironment with no budget and no tracking (the
baseline). The difference is the cooperative checks' cost per step.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from common import setup_django

INPUTS = {
    "url": "{{ env.API_BASE }}/orders/{{ trigger.body.order.id }}",
    "headers": {"Authorization": "Bearer {{ env.API_KEY }}", "X-Run": "{{ run.id }}"},
    "json": {f"field_{n}": f"{{{{ trigger.body.order.lines[{n}].sku | upper }}}}"
             for n in range(12)},
    "summary": "{% for line in trigger.body.order.lines %}{{ line.sku }}={{ line.qty * 2 }};"
               "{% endfor %}",
}
CONTEXT: dict[str, Any] = {
    "trigger": {"body": {"order": {"id": 42, "lines": [{"sku": f"sku-{n}", "qty": n}
                                                        for n in range(100)]}}},
    "steps": {}, "vars": {}, "run": {"id": "r-1"},
    "env": {"API_BASE": "https://api.example.com", "API_KEY": "k-123456789"},
}
ROUNDS = 15
RENDERS = 200


def plain_renderer():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    cache: dict[str, Any] = {}

    def render(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            template = cache.get(value) or cache.setdefault(value, environment.from_string(value))
            return template.render(**CONTEXT_NOW)
        return value

    return render


CONTEXT_NOW: dict[str, Any] = CONTEXT


def per_render_us(render) -> float:
    render(INPUTS)  # compile and warm
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(RENDERS):
            render(INPUTS)
        rounds.append((time.perf_counter() - started) / RENDERS * 1e6)
    return statistics.median(rounds)


def measure() -> dict[str, float]:
    global CONTEXT_NOW
    setup_django()
    from workflows import expression_limits
    from workflows.expressions import render_value
    from workflows.taint import Tainted

    def owlgrid(context: dict[str, Any]):
        def render(value: Any) -> Any:
            with expression_limits.budget(time_limit_ms=None, size_limit=None):
                return render_value(value, context)
        return render

    secret_context = {**CONTEXT, "env": {**CONTEXT["env"],
                                         "API_KEY": Tainted.secret("k-123456789", "API_KEY")}}
    CONTEXT_NOW = CONTEXT
    baseline = per_render_us(plain_renderer())
    budgeted = per_render_us(owlgrid(CONTEXT))
    with_secret = per_render_us(owlgrid(secret_context))
    return {
        "expression_render_us": round(budgeted, 1),
        "expression_render_with_secret_us": round(with_secret, 1),
        "baseline_plain_jinja_render_us": round(baseline, 1),
        "ratio_render_to_plain_jinja": round(budgeted / baseline, 2),
        "limits_cost_ms_per_step": round((budgeted - baseline) / 1000, 3),
        "secret_tracking_cost_ms_per_step": round((with_secret - budgeted) / 1000, 3),
    }


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
