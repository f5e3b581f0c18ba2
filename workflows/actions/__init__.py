"""The action catalogue: one module per action type, mapped by name in REGISTRY.

Adding an action type means one new module and one line here.
"""

from __future__ import annotations

from workflows.actions import (
    approval,
    control,
    create_record,
    for_each,
    http_request,
    if_,
    lock,
    log,
    parallel,
    query_records,
    respond,
    send_email,
    set_variable,
    slack_message,
    switch,
    trigger_workflow,
    try_,
    update_record,
    wait,
)
from workflows.actions.base import ActionType

REGISTRY: dict[str, ActionType] = {
    action.name: action
    for action in (
        if_.IfAction(),
        switch.SwitchAction(),
        for_each.ForEachAction(),
        parallel.ParallelAction(),
        try_.TryAction(),
        lock.LockAction(),
        set_variable.SetVariableAction(),
        log.LogAction(),
        wait.WaitAction(),
        approval.ApprovalAction(),
        control.StopAction(),
        control.FailAction(),
        http_request.HttpRequestAction(),
        trigger_workflow.TriggerWorkflowAction(),
        create_record.CreateRecordAction(),
        query_records.QueryRecordsAction(),
        update_record.UpdateRecordAction(),
        slack_message.SlackMessageAction(),
        send_email.SendEmailAction(),
        respond.RespondAction(),
    )
}


class UnknownActionType(KeyError):  # noqa: N818
    pass


def get_action_type(name: str) -> ActionType:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownActionType(f"unknown action type {name!r}; known types: {known}") from None
