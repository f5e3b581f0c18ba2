"""`update_record`: change a record found by key or id (merge by default), or upsert it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from pydantic import Field, model_validator

from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext
from workflows.actions.records import check_schema, collection_for, notify, record_out
from workflows.models import Record


class UpdateRecordInputs(ActionInputs):
    collection: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    key: str | None = None
    id: str | None = None
    data: dict[str, Any]
    replace: bool = False
    upsert: bool = False

    @model_validator(mode="after")
    def key_or_id(self) -> UpdateRecordInputs:
        if (self.key is None) == (self.id is None):
            raise ValueError("give exactly one of `key` or `id`")
        if self.upsert and self.key is None:
            raise ValueError("`upsert` needs a `key`")
        return self


class UpdateRecordAction(ActionType):
    name = "update_record"
    label = "Update record"
    icon = "✎"
    category = "resource"
    description = "Update a record's data (merged, or replaced); upsert creates it when missing."
    Inputs = UpdateRecordInputs

    def execute(self, ctx: StepContext, inputs: UpdateRecordInputs) -> Any:
        collection = collection_for(ctx, inputs.collection, create=inputs.upsert)
        with transaction.atomic():
            lookup = {"key": inputs.key} if inputs.key is not None else {"id": inputs.id}
            record = Record.objects.select_for_update().filter(
                collection=collection, **lookup).first()
            if record is None and not inputs.upsert:
                raise ActionError(f"no record {lookup} in {inputs.collection}", kind="not_found")
            event = "updated" if record is not None else "created"
            if record is None:
                record = Record(collection=collection, key=inputs.key, data={})
            record.data = inputs.data if inputs.replace else {**record.data, **inputs.data}
            check_schema(collection, record.data)
            record.save()
        notify(ctx, collection, record, event)
        return {**record_out(record), "event": event}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"update {inputs.get('collection', '?')}"
