"""`query_records`: read records of a collection, filtered by equality on their fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, StepContext
from workflows.actions.records import collection_for, record_out


class QueryRecordsInputs(ActionInputs):
    collection: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    filter: dict[str, Any] = Field(default_factory=dict)
    key: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    order: Literal["created", "-created"] = "-created"


class QueryRecordsAction(ActionType):
    name = "query_records"
    label = "Query records"
    icon = "🔍"
    category = "resource"
    description = "Find records by key or by field values; output {count, records}."
    Inputs = QueryRecordsInputs

    def execute(self, ctx: StepContext, inputs: QueryRecordsInputs) -> Any:
        collection = collection_for(ctx, inputs.collection, create=False)
        records = collection.records.all()
        if inputs.key is not None:
            records = records.filter(key=inputs.key)
        for field, value in inputs.filter.items():
            records = records.filter(**{f"data__{field}": value})
        order = "created_at" if inputs.order == "created" else "-created_at"
        found = [record_out(r) for r in records.order_by(order)[: inputs.limit]]
        return {"count": len(found), "records": found}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"query {inputs.get('collection', '?')}"
