"""The status URL an asynchronous HTTP caller polls: signed, so that a caller without an API
token (HMAC-signed or public triggers) can follow the run it started, and nobody can guess
another run's URL.

It uses Django's documented signing (`django.core.signing.Signer`, keyed by SECRET_KEY): the
URL carries the run id and its signature, and the page shows only what the caller of a
trigger may know: the status, the run's result, the error and the response, secrets masked.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from access.api import error_body
from runner.models import Run
from runner.sealing import shown

SALT = "owlgrid.run-status"


def status_url(run: Run) -> str:
    signature = signing.Signer(salt=SALT).sign(str(run.id)).rsplit(":", 1)[1]
    path = reverse("run_status", args=[run.id])
    return f"{settings.SITE_URL}{path}?signature={signature}"


def signature_valid(run_id: uuid.UUID, signature: str) -> bool:
    try:
        signing.Signer(salt=SALT).unsign(f"{run_id}:{signature}")
    except signing.BadSignature:
        return False
    return True


@require_GET
def run_status(request: HttpRequest, run_id: uuid.UUID) -> JsonResponse:
    """The run's state for whoever holds its signed URL (no login, no token)."""
    if not signature_valid(run_id, request.GET.get("signature", "")):
        return JsonResponse(error_body("bad_signature", (
            "This status URL is not valid: use the status_url the trigger answered with, "
            "whole.")), status=403)
    run = Run.objects.filter(id=run_id).first()
    if run is None:  # pruned by retention since
        return JsonResponse(error_body("not_found", (
            "This run no longer exists (finished runs are pruned after the retention "
            "period).")), status=404)
    return JsonResponse({
        "run_id": str(run.id), "status": run.status, "status_reason": run.status_reason,
        "result": shown(run.result), "error": shown(run.error),
        "response": shown(run.response), "created_at": run.created_at,
        "started_at": run.started_at, "finished_at": run.finished_at,
    })
