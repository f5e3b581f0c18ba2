"""HTTP trigger URLs: `/hooks/<environment>/<workflow>`.

Checks run cheapest first and every refusal happens before the run is created, so a rejected
call leaves no run and no queued job: 404/405, 413 (from Content-Length, before reading), 401/403,
429, 400 (body and JSON Schema), then the Idempotency-Key (replay, 409, 422).
"""

from __future__ import annotations

import json
import weakref
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from environments.models import Deployment, Environment
from runner import hook_answers as answers
from runner import services, trigger_limits
from runner.trigger_access import Refusal, check_access
from workflows.format_validation import nesting_depth
from workflows.models import Trigger
from workflows.trigger_input import body_problems

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_SYNC_TIMEOUT = 10.0
MAX_BODY_DEPTH = 64
HIDDEN_HEADERS = {"authorization", "cookie", "webhook-signature"}
RECHECK_SECONDS = 1.0
_ANSWER_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Reject(Exception):  # noqa: N818 - carries the HTTP refusal
    def __init__(self, status: int, code: str, message: str, fields: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields or [], headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": {"code": self.code, "message": self.message,
                                           "fields": self.fields}}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


@csrf_exempt
async def hook(request: HttpRequest, environment: str, workflow: str) -> HttpResponse:
    """Async so that callers waiting for a synchronous answer hold no thread; the checks and
    the run's start run in the request's own thread, as a sync view's would."""
    try:
        outcome = await sync_to_async(handle)(request, environment, workflow)
    except Reject as reject:
        return reject.response()
    if isinstance(outcome, answers.Pending):
        return await answers.answer_when_ready(outcome)
    return outcome


def handle(request: HttpRequest, environment_name: str,
           workflow_name: str) -> HttpResponse | answers.Pending:
    environment, deployment, trigger = find_trigger(
        environment_name, workflow_name, request.method or "GET")
    options = trigger.settings or {}
    max_body = int(options.get("max_body_bytes") or DEFAULT_MAX_BODY)
    declared = request.headers.get("Content-Length", "0") or "0"
    if not declared.isdigit() or int(declared) > max_body:
        raise Reject(413, "too_large", f"The body is larger than {max_body} bytes.")
    body = request.read(max_body + 1)
    if len(body) > max_body:
        raise Reject(413, "too_large", f"The body is larger than {max_body} bytes.")
    refusal = check_access(request, trigger, environment, body)
    if refusal is not None:
        raise refused(refusal)
    wait = trigger_limits.rate_limited(trigger.id, environment.id,
                                       options.get("rate_limit_per_minute"))
    if wait is not None:
        raise Reject(429, "rate_limited", "Too many calls to this trigger; try again later.",
                     headers={"Retry-After": str(wait)})
    trigger_input = build_input(request, body)
    check_schema(options.get("json_schema"), trigger_input["body"])
    return start_idempotently(request, deployment, trigger, environment, trigger_input, body)


def refused(refusal: Refusal) -> Reject:
    headers = {"WWW-Authenticate": 'Bearer realm="owlgrid"'} if refusal.status == 401 else {}
    return Reject(refusal.status, refusal.code, refusal.message, headers=headers)


def find_trigger(environment_name: str, workflow_name: str,
                 method: str) -> tuple[Environment, Deployment, Trigger]:
    """The deployed version's HTTP trigger for this method; one 404 for every missing piece."""
    try:  # at most one deployment per workflow and environment: no ORDER BY to plan
        deployment: Deployment | None = Deployment.objects.select_related(
            "environment", "version", "workflow").get(
            environment__name=environment_name, workflow__name=workflow_name,
            workflow__active=True)
    except Deployment.DoesNotExist:
        deployment = None
    triggers = [] if deployment is None else list(
        deployment.version.triggers.filter(type=Trigger.Type.HTTP))
    if deployment is None or not triggers:
        raise Reject(404, "not_found",
                     f"No active workflow {workflow_name!r} is deployed in {environment_name!r}.")
    for trigger in triggers:
        if method in allowed_methods(trigger):
            return deployment.environment, deployment, trigger
    allowed = sorted({m for t in triggers for m in allowed_methods(t)})
    raise Reject(405, "method_not_allowed", f"Use {', '.join(allowed)}.",
                 headers={"Allow": ", ".join(allowed)})


def allowed_methods(trigger: Trigger) -> list[str]:
    return list((trigger.settings or {}).get("methods") or ["POST"])


def build_input(request: HttpRequest, body: bytes) -> dict[str, Any]:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    parsed: Any
    if content_type == "application/json" or content_type.endswith("+json"):
        text = body.decode("utf-8", "replace")
        if nesting_depth(text) > MAX_BODY_DEPTH:  # before json.loads, which would recurse
            raise Reject(400, "invalid_body", f"The body nests deeper than {MAX_BODY_DEPTH} "
                                              "levels.")
        try:
            parsed = json.loads(text or "null")
        except ValueError as exc:
            raise Reject(400, "invalid_body", "The body is not valid JSON.",
                         [{"path": "body", "message": str(exc)[:200]}]) from None
    elif content_type == "application/x-www-form-urlencoded":
        parsed = {k: v[0] if len(v) == 1 else v
                  for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    else:
        parsed = body.decode("utf-8", "replace")
    return {
        "method": request.method,
        "path": request.path,
        "query": {k: v[0] if len(v) == 1 else v for k, v in request.GET.lists()},
        "headers": {k.lower(): v for k, v in request.headers.items()
                    if k.lower() not in HIDDEN_HEADERS},
        "body": parsed,
    }


def check_schema(schema: dict | None, body: Any) -> None:
    fields = body_problems(schema, body)
    if fields:
        raise Reject(400, "invalid_body", "The body does not match the trigger's schema.",
                     fields)


def start_idempotently(request: HttpRequest, deployment: Deployment, trigger: Trigger,
                       environment: Environment, trigger_input: dict,
                       body: bytes) -> HttpResponse | answers.Pending:
    key = request.headers.get("Idempotency-Key")
    redis_key = None
    if key:
        redis_key = trigger_limits.idempotency_key(trigger.id, environment.id, key)
        claim = trigger_limits.claim(redis_key, body)
        if claim.state == "mismatch":
            raise Reject(422, "idempotency_mismatch",
                         "This Idempotency-Key was used with another body.")
        if claim.state == "conflict":
            raise Reject(409, "idempotency_in_flight",
                         "A call with this Idempotency-Key is still being processed.")
        if claim.state == "replay":
            assert claim.response is not None  # a replay carries the answer remembered
            return answers.as_http(claim.response, replayed=True)
    options = trigger.settings or {}
    try:
        # Every run executes on a worker, under its limits; a synchronous caller waits for
        # the answer (or gets 202 and the run's status URL once its timeout has passed).
        run = services.run_start(workflow=deployment.workflow, version=deployment.version,
                                 environment=environment, trigger=trigger, trigger_type="http",
                                 trigger_input=trigger_input)
    except BaseException:
        if redis_key:
            trigger_limits.forget(redis_key)
        raise
    if options.get("mode", "async") == "sync":
        timeout = min(float(options.get("timeout", DEFAULT_SYNC_TIMEOUT)), 60.0)
        return answers.Pending(run, timeout, redis_key, body)
    return answers.finish(answers.accepted(run), redis_key, body)
