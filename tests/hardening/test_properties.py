"""Bad input, generated: any document imports cleanly or fails cleanly (never a crash, never a
partial write); any expression renders or fails with ExpressionError, fast."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.expressions import ExpressionError, render_string
from workflows.format import ImportErrors, workflow_import
from workflows.models import Action, Trigger, Workflow, WorkflowVersion

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
action_like = st.fixed_dictionaries(
    {"name": st.text(max_size=12), "type": st.sampled_from(
        ["log", "if", "for_each", "http_request", "teleport", ""])},
    optional={"inputs": st.dictionaries(st.sampled_from(
        ["message", "condition", "items", "url", "x"]), json_values, max_size=3),
        "children": st.dictionaries(st.sampled_from(["then", "else", "body", "bad"]),
                                    st.just([]), max_size=2)},
)
documents = st.fixed_dictionaries(
    {"format": st.sampled_from(["owlgrid.workflow/v1", "v0"]),
     "name": st.sampled_from(["prop-test", "Bad Name", ""]),
     "actions": st.lists(action_like, max_size=4)},
    optional={"triggers": st.lists(json_values, max_size=2), "tags": json_values},
)


def counts():
    return tuple(m.objects.count() for m in (Workflow, WorkflowVersion, Action, Trigger))


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents | json_values)
def test_import_of_anything_is_clean(document):
    before = counts()
    raw = json.dumps(document)
    try:
        workflow_import(document=raw)
    except ImportErrors as errors:
        assert errors.problems and all(isinstance(p, str) and m for p, m in errors.problems)
        assert counts() == before
    else:
        Workflow.objects.filter(name="prop-test").delete()


@settings(max_examples=300, deadline=None)
@given(source=st.text(alphabet=st.sampled_from(list("{}()[]|.*+-~_'\"0123456789 abcfgmorx_")),
                      max_size=40).map(lambda body: "{{ " + body + " }}"))
def test_any_expression_renders_or_fails_cleanly(source):
    began = time.perf_counter()
    with contextlib.suppress(ExpressionError):
        render_string(source, {"trigger": {"body": {"a": [1, 2]}}, "vars": {}, "steps": {}})
    assert time.perf_counter() - began < 1.0


def test_deep_recursion_in_an_expression_fails_cleanly():
    with pytest.raises(ExpressionError):
        render_string("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", {})


def test_expressions_cannot_read_settings_environment_or_other_environments():
    context = {"env": {"OWN": "mine"}}
    for source in ("{{ settings.SECRET_KEY }}", "{{ os.environ }}", "{{ env.OTHER_ENV_SECRET }}",
                   "{{ self._TemplateReference__context }}", "{{ namespace }}",
                   "{{ joiner.__init__.__globals__ }}"):
        with pytest.raises(ExpressionError):
            render_string(source, context)
