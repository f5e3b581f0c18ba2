"""Shared helpers of the record actions: collections per environment, JSON Schema checks."""

from __future__ import annotations

from typing import Any

from workflows.actions.base import ActionError, StepContext
from workflows.models import Collection, Record


def collection_for(ctx: StepContext, name: str, *, create: bool) -> Collection:
    if ctx.environment_id is None:
        raise ActionError("records live in an environment: run this workflow in one",
                          kind="no_environment")
    collection = Collection.objects.filter(environment_id=ctx.environment_id, name=name).first()
    if collection is None:
        if not create:
            raise ActionError(f"no collection named {name!r} in {ctx.environment_name}",
                              kind="not_found")
        collection, _ = Collection.objects.get_or_create(environment_id=ctx.environment_id,
                                                         name=name)
    return collection


def check_schema(collection: Collection, data: dict[str, Any]) -> None:
    if not collection.schema:
        return
    from jsonschema import Draft202012Validator  # only collections with a schema need it

    errors = sorted(Draft202012Validator(collection.schema).iter_errors(data),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        details = "; ".join(
            f"{'.'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in errors
        )
        raise ActionError(f"record does not match the collection's schema: {details}",
                          kind="invalid_record")


def record_out(record: Record) -> dict[str, Any]:
    return {"id": str(record.id), "key": record.key, "data": record.data,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat()}


def notify(ctx: StepContext, collection: Collection, record: Record, event: str) -> None:
    hook = getattr(ctx, "record_written", None)
    if hook is not None:
        hook(collection=collection.name, record_id=str(record.id), event=event)
