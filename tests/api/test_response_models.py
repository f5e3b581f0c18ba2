"""The API's response wrappers are built once per response type (owlgrid_site/api.py,
`share_response_models`), and responses still validate and document as before."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from django.test import Client
from ninja import Schema

from owlgrid_site.api import ErrorOut, share_response_models
from tests.api.operations import declared_operations


def declared_models() -> list[Any]:
    return [
        model
        for operation in declared_operations()
        for model in operation.response_models.values()
        if isinstance(model, type)
    ]


def test_each_response_type_is_wrapped_by_one_model_for_the_whole_api() -> None:
    models = declared_models()
    by_type: dict[Any, set[int]] = {}
    for model in models:
        by_type.setdefault(model.model_fields["response"].annotation, set()).add(id(model))

    assert {len(ids) for ids in by_type.values()} == {1}
    assert len(by_type[ErrorOut]) == 1
    assert len(models) > 5 * len(by_type)  # the error codes of ≈ 50 operations


def test_sharing_twice_keeps_one_cache() -> None:
    from ninja.operation import Operation

    create = Operation._create_response_model
    share_response_models()
    assert Operation._create_response_model is create


def test_an_unhashable_declaration_still_gets_its_model() -> None:
    from ninja.operation import Operation

    class Item(Schema):
        name: str

    unhashable = Annotated[Item, {"note": "metadata pydantic ignores"}]
    with pytest.raises(TypeError):
        hash(unhashable)
    model = Operation._create_response_model(None, unhashable)  # type: ignore[arg-type]
    assert model.model_validate({"response": {"name": "x"}}).response == Item(name="x")


@pytest.mark.django_db
def test_shared_error_model_serves_every_operation(client: Client) -> None:
    for url in ("/api/workflows", "/api/runs", "/api/environments"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "unauthenticated"
