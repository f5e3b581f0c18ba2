"""`slack_message`: post to Slack through a connection: an incoming webhook or a bot token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from workflows import outbound
from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext

if TYPE_CHECKING:  # imported where a message is posted
    import httpx

DEFAULT_API = "https://slack.com/api"


class SlackMessageInputs(ActionInputs):
    connection: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=40000)
    channel: str | None = None
    blocks: list[dict[str, Any]] | None = None


def post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    import httpx

    try:
        return outbound.send("POST", url, timeout=15, json=payload, headers=headers)
    except outbound.OutboundRefused as exc:
        raise ActionError(f"outbound request refused: {exc}", kind="outbound_refused") from None
    except httpx.HTTPError as exc:
        raise ActionError(f"Slack unreachable: {exc}", kind="http_error", retryable=True) from None


class SlackMessageAction(ActionType):
    name = "slack_message"
    label = "Slack message"
    icon = "#"
    category = "resource"
    description = "Post a message to Slack (incoming webhook or chat.postMessage)."
    Inputs = SlackMessageInputs

    def execute(self, ctx: StepContext, inputs: SlackMessageInputs) -> Any:
        info = ctx.connection(inputs.connection, "slack")
        payload: dict[str, Any] = {"text": inputs.text}
        if inputs.blocks:
            payload["blocks"] = inputs.blocks
        token = info.secrets.get("bot_token")
        if token:
            return self.post_with_token(info.config, token, inputs, payload)
        webhook = info.secrets.get("webhook_url") or info.config.get("webhook_url")
        if not webhook:
            raise ActionError("the Slack connection has neither a webhook URL nor a bot token",
                              kind="bad_connection")
        response = post(webhook, payload, {})
        if response.status_code != 200:
            raise ActionError(f"Slack answered {response.status_code}: {response.text[:200]}",
                              kind="slack_error", retryable=response.status_code >= 500)
        return {"ok": True}

    def post_with_token(self, config: dict, token: str, inputs: SlackMessageInputs,
                        payload: dict[str, Any]) -> dict[str, Any]:
        if not inputs.channel:
            raise ActionError("`channel` is required with a bot token", kind="invalid_inputs")
        api = str(config.get("api_base", DEFAULT_API)).rstrip("/")
        response = post(f"{api}/chat.postMessage", {**payload, "channel": inputs.channel},
                        {"Authorization": f"Bearer {token}"})
        data = response.json() if "json" in response.headers.get("content-type", "") else {}
        if response.status_code != 200 or not data.get("ok"):
            reason = data.get("error", response.text[:200])
            raise ActionError(f"Slack refused the message: {reason}",
                              kind="slack_error", retryable=response.status_code >= 500)
        return {"ok": True, "ts": data.get("ts"), "channel": data.get("channel")}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"Slack {inputs.get('channel') or ''}: {str(inputs.get('text', ''))[:60]}"
