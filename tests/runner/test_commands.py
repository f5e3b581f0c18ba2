"""The start_run command and its exit codes, on a real worker."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_run_waits_and_reports(workers):
    publish_workflow("cli-ok", [{"name": "say", "type": "stop",
                                 "inputs": {"result": "{{ trigger.body.n + 1 }}"}}])
    publish_workflow("cli-bad", [{"name": "boom", "type": "fail", "inputs": {"message": "no"}}])
    workers.start(1)
    out = StringIO()
    call_command("start_run", "cli-ok", "--input", '{"n": 41}', "--wait", stdout=out)
    assert json.loads(out.getvalue().splitlines()[-1])["result"]["output"] == 42
    with pytest.raises(CommandError) as failed:
        call_command("start_run", "cli-bad", "--wait", stdout=StringIO())
    assert failed.value.returncode == 1
    with pytest.raises(CommandError) as bad:
        call_command("start_run", "cli-ok", "--input", "{nope", stdout=StringIO())
    assert bad.value.returncode == 2
