"""`http_request`: call an HTTP API (directly or through a connection), SSRF-guarded."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from pydantic import Field, model_validator

from workflows import outbound
from workflows.actions.base import (
    ActionError,
    ActionInputs,
    ActionType,
    InputProblem,
    StepContext,
)

if TYPE_CHECKING:  # imported where a request is sent (workflows.outbound)
    import httpx

MAX_BODY_CHARS = 1_000_000
DEBUG_BODY_CHARS = 1000  # of each response body, logged at debug level


def _elapsed_ms(began: float) -> int:
    return round((time.monotonic() - began) * 1000)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _any_2xx() -> list[int | str]:
    return ["2xx"]


class HttpRequestInputs(ActionInputs):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1, max_length=8000)
    connection: str | None = None
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, Any] | None = None
    body: str | None = None
    timeout: float = Field(default=30, gt=0, le=300, title="Request timeout (s)")
    expected_status: list[int | str] = Field(default_factory=_any_2xx)
    follow_redirects: bool = True
    # The receiver honours Idempotency-Key: a call that timed out (and may have taken effect)
    # may be sent again by a retry. GET, HEAD and OPTIONS are always safe to send again.
    retry_safe: bool = False

    @model_validator(mode="after")
    def one_body(self) -> HttpRequestInputs:
        given = [n for n in ("json_body", "form", "body") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError("give only one of `json`, `form` or `body`")
        if self.connection is None and not self.url.lower().startswith(("http://", "https://")):
            raise InputProblem("url", "url must be absolute (http:// or https://) without a "
                                      "connection")
        for item in self.expected_status:
            if isinstance(item, str) and not (len(item) == 3 and item[0] in "12345"
                                              and item[1:] == "xx"):
                raise InputProblem("expected_status",
                                   f"item {item!r}: use a code or e.g. '2xx'")
        return self


def status_expected(status: int, expected: list[int | str]) -> bool:
    return any(status == item if isinstance(item, int) else str(status)[0] == item[0]
               for item in expected)


def connection_request(ctx: StepContext, inputs: HttpRequestInputs, headers: dict[str, str]) -> str:
    """Join the path to the connection's base URL and apply its authentication (every header
    it sets is a credential: none follows a redirect to another origin)."""
    info = ctx.connection(inputs.connection or "", "http")
    base = str(info.config.get("base_url", "")).rstrip("/")
    url = inputs.url if inputs.url.startswith(("http://", "https://")) else (
        f"{base}/{inputs.url.lstrip('/')}"
    )
    auth = info.config.get("auth_type", "none")
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {info.secrets.get('token', '')}"
    elif auth == "basic":
        raw = f"{info.config.get('username', '')}:{info.secrets.get('password', '')}"
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
    elif auth == "header":
        headers[str(info.config.get("header_name", "X-API-Key"))] = info.secrets.get(
            "header_value", ""
        )
    return url


ERROR_BODY_LIMIT = 2000


def error_body(body: Any) -> Any:
    """A response body for an error's details, as JSON data (never a Python repr): the value
    itself when its JSON text is short, else the first ERROR_BODY_LIMIT characters of it."""
    if isinstance(body, str):
        return body[:ERROR_BODY_LIMIT]
    text = json.dumps(body, ensure_ascii=False, default=str)
    return body if len(text) <= ERROR_BODY_LIMIT else text[:ERROR_BODY_LIMIT]


def parse_body(response: httpx.Response) -> tuple[Any, bool]:
    text = response.text
    truncated = len(text) > MAX_BODY_CHARS
    if "json" in response.headers.get("content-type", "") and not truncated:
        try:
            return json.loads(text), False
        except ValueError:
            pass
    return text[:MAX_BODY_CHARS], truncated


class HttpRequestAction(ActionType):
    name = "http_request"
    label = "HTTP request"
    icon = "🌐"
    category = "resource"
    description = "Call an HTTP API; the response status, headers and body become the output."
    Inputs = HttpRequestInputs

    def execute(self, ctx: StepContext, inputs: HttpRequestInputs) -> Any:

        headers = {**inputs.headers, "Idempotency-Key": ctx.idempotency_key}
        url = connection_request(ctx, inputs, headers) if inputs.connection else inputs.url
        secrets = [value for value in ctx.secret_values() if value]
        sensitive = frozenset(name for name, value in headers.items()
                              if (name not in inputs.headers and name != "Idempotency-Key")
                              or any(s in value for s in secrets))
        follow = inputs.follow_redirects and self._connection_allows_redirects(ctx, inputs)
        content: dict[str, Any] = {}
        if inputs.json_body is not None:
            content["json"] = inputs.json_body
        elif inputs.form is not None:
            content["data"] = {k: str(v) for k, v in inputs.form.items()}
        elif inputs.body is not None:
            content["content"] = inputs.body.encode()
        began = time.monotonic()
        try:
            response = outbound.send(
                inputs.method, url, timeout=ctx.time_left(inputs.timeout),
                follow_redirects=follow, headers=headers, sensitive_headers=sensitive,
                params={k: str(v) for k, v in inputs.query.items()}, **content,
            )
        except Exception as exc:
            ctx.log(f"{inputs.method} {url} → {type(exc).__name__} after "
                    f"{_elapsed_ms(began)} ms", "warning")
            self._raise_for(exc, inputs)
        body, truncated = parse_body(response)
        ctx.log(f"{inputs.method} {response.request.url} → {response.status_code} "
                f"({len(response.content)} bytes, {_elapsed_ms(began)} ms)")
        ctx.log(f"response body: {response.text[:DEBUG_BODY_CHARS]}", "debug")
        output = {"status": response.status_code,
                  "headers": {k.lower(): v for k, v in response.headers.items()},
                  "body": body, "truncated": truncated}
        if not status_expected(response.status_code, inputs.expected_status):
            retryable = response.status_code >= 500 or response.status_code == 429
            raise ActionError(f"unexpected status {response.status_code} from {inputs.method} "
                              f"{url}", kind="http_status", retryable=retryable,
                              status=response.status_code, body=error_body(body))
        return output

    def _raise_for(self, exc: Exception, inputs: HttpRequestInputs) -> NoReturn:
        """The step's error for a call that got no response."""
        import httpx

        if isinstance(exc, outbound.OutboundRefused):
            raise ActionError(f"outbound request refused: {exc}",
                              kind="outbound_refused") from None
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):  # nothing was sent
            raise ActionError(f"{type(exc).__name__}: {exc}", kind="http_error",
                              retryable=True) from None
        if isinstance(exc, httpx.TimeoutException):  # sent, perhaps acted on, no answer in time
            raise ActionError(f"{type(exc).__name__}: no answer in time", kind="timeout",
                              retryable=self.retry_safe(inputs)) from None
        if isinstance(exc, httpx.HTTPError):
            raise ActionError(f"{type(exc).__name__}: {exc}", kind="http_error",
                              retryable=self.retry_safe(inputs)) from None
        raise exc

    @staticmethod
    def _connection_allows_redirects(ctx: StepContext, inputs: HttpRequestInputs) -> bool:
        if not inputs.connection:
            return True
        config = ctx.connection(inputs.connection, "http").config
        return bool(config.get("follow_redirects", True))

    def retry_safe(self, inputs: HttpRequestInputs) -> bool:
        return inputs.method in SAFE_METHODS or inputs.retry_safe

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"{inputs.get('method', 'GET')} {inputs.get('url', '')}"
