"""`send_email`: send a message through an SMTP connection of the run's environment."""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email
from pydantic import Field, field_validator

from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext


def _addresses(values: list[str]) -> list[str]:
    for value in values:
        validate_email(value)
    return values


class SendEmailInputs(ActionInputs):
    connection: str = Field(min_length=1)
    to: list[str] = Field(min_length=1, max_length=100)
    cc: list[str] = Field(default_factory=list, max_length=100)
    bcc: list[str] = Field(default_factory=list, max_length=100)
    reply_to: list[str] = Field(default_factory=list, max_length=10)
    subject: str = Field(min_length=1, max_length=998)
    body: str = ""
    html: str | None = None

    @field_validator("to", "cc", "bcc", "reply_to")
    @classmethod
    def valid_addresses(cls, values: list[str]) -> list[str]:
        try:
            return _addresses(values)
        except Exception:  # noqa: BLE001 - Django's ValidationError, reported as a field error
            raise ValueError("every item must be an email address") from None


class SendEmailAction(ActionType):
    name = "send_email"
    label = "Send email"
    icon = "✉"
    category = "resource"
    description = "Send an email through an SMTP connection."
    Inputs = SendEmailInputs

    def execute(self, ctx: StepContext, inputs: SendEmailInputs) -> Any:
        info = ctx.connection(inputs.connection, "smtp")
        config = info.config
        backend = EmailBackend(
            host=config.get("host", "localhost"), port=int(config.get("port", 25)),
            username=config.get("username") or None, password=info.secrets.get("password"),
            use_tls=bool(config.get("use_tls")), use_ssl=bool(config.get("use_ssl")),
            timeout=ctx.time_left(float(config.get("timeout", 30))), fail_silently=False,
        )
        message = EmailMultiAlternatives(
            subject=inputs.subject, body=inputs.body,
            from_email=config.get("from_email", "owlgrid@localhost"), to=inputs.to,
            cc=inputs.cc, bcc=inputs.bcc, reply_to=inputs.reply_to, connection=backend,
            # The Message-ID is fixed here, so that the output names the mail actually sent
            # (Django would otherwise make a new one each time it builds the message).
            headers={"X-OwlGrid-Idempotency-Key": ctx.idempotency_key,
                     "Message-ID": make_msgid(domain=DNS_NAME)},
        )
        if inputs.html:
            message.attach_alternative(inputs.html, "text/html")
        try:
            sent = message.send()
        except TimeoutError:
            raise ActionError("SMTP server did not answer in time", kind="timeout",
                              retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ActionError(f"SMTP error: {exc}", kind="smtp_error", retryable=True) from None
        return {"sent": sent, "to": inputs.to, "message_id": message.extra_headers["Message-ID"]}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"email {inputs.get('to', '')}: {inputs.get('subject', '')}"
