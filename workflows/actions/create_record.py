"""`create_record`: store a JSON record in a collection of the run's environment."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from pydantic import Field

from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext
from workflows.actions.records import check_schema, collection_for, notify, record_out
from workflows.models import Record


class CreateRecordInputs(ActionInputs):
    collection: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    data: dict[str, Any]
    key: str | None = Field(default=None, max_length=200)
    create_collection: bool = True


class CreateRecordAction(ActionType):
    name = "create_record"
    label = "Create record"
    icon = "➕"
    category = "resource"
    description = "Create a record (optionally with a unique key) in a collection."
    Inputs = CreateRecordInputs

    def execute(self, ctx: StepContext, inputs: CreateRecordInputs) -> Any:
        collection = collection_for(ctx, inputs.collection, create=inputs.create_collection)
        check_schema(collection, inputs.data)
        try:
            with transaction.atomic():
                record = Record.objects.create(collection=collection, key=inputs.key,
                                               data=inputs.data)
        except IntegrityError:
            raise ActionError(f"a record with key {inputs.key!r} already exists in "
                              f"{inputs.collection}", kind="conflict") from None
        notify(ctx, collection, record, "created")
        return record_out(record)

    def revert(self, ctx: StepContext, inputs: CreateRecordInputs, output: Any) -> Any:
        deleted, _ = Record.objects.filter(id=output["id"]).delete()
        return {"deleted": deleted}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"create in {inputs.get('collection', '?')}"
