"""Operations that declare the same parameters share the models that read them
(owlgrid_site/api.py, `share_parameter_models`); the API documents and validates as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from django.test import Client
from ninja import Query
from ninja.signature.details import ViewSignature

from owlgrid_site.api import api, share_parameter_models
from tests.api.operations import declared_operations

BASE = Path(__file__).resolve().parents[2]
UNSHARED_OPENAPI = (
    "import os, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'owlgrid_site.settings'); "
    "import django; django.setup(); "
    "from ninja.signature.details import ViewSignature; "
    "ViewSignature._create_models.shares_models = True; "  # as if already shared: left alone
    "from owlgrid_site.api import api; import owlgrid_site.urls; "
    "print(json.dumps(api.get_openapi_schema(), sort_keys=True, default=str))"
)


def parameter_models() -> list[Any]:
    return [model for operation in declared_operations() for model in operation.models]


def test_operations_with_the_same_parameters_share_their_models() -> None:
    models = parameter_models()
    distinct = {id(model) for model in models}
    assert len(models) >= 50
    assert len(distinct) <= len(models) * 2 // 3
    by_name = [model for model in models if model.__ninja_param_source__ == "path"
               and tuple(model.model_fields) == ("name",)]
    assert len(by_name) >= 10  # a workflow's, an environment's ... operations
    assert len({id(model) for model in by_name}) == 1


def test_the_openapi_document_is_the_one_ninja_builds_without_sharing() -> None:
    import owlgrid_site.urls  # noqa: F401 - declares every operation

    done = subprocess.run([sys.executable, "-c", UNSHARED_OPENAPI], cwd=BASE,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    shared = json.dumps(api.get_openapi_schema(), sort_keys=True, default=str)
    assert shared == done.stdout.strip()


def test_sharing_twice_keeps_one_cache() -> None:
    from ninja.signature.details import ViewSignature

    create = ViewSignature._create_models
    share_parameter_models()
    assert ViewSignature._create_models is create


@pytest.mark.django_db
def test_a_shared_path_model_still_refuses_a_bad_parameter(client: Client,
                                                            django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("ada", password="pw")
    client.force_login(user)
    response = client.get("/api/runs/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"].endswith("run_id")
    assert client.get("/api/runs/8f1d7c5e-0000-4000-8000-000000000000").status_code == 404


TAGS_A = Query(default_factory=lambda: ["a"])
TAGS_B = Query(default_factory=lambda: ["b"])
UNHASHABLE = Annotated[int, {"note": "metadata pydantic ignores"}]


def query_model(view: Any) -> Any:
    (model,) = ViewSignature("/probe", view).models
    return model


def test_unions_in_another_order_get_their_own_model() -> None:
    """pydantic tries a union's members in order: "1" is 1 for `int | float`, 1.0 for the other."""

    def int_first(request: Any, value: int | float) -> None: ...

    def float_first(request: Any, value: float | int) -> None: ...

    def int_first_again(request: Any, value: int | float) -> None: ...

    assert query_model(int_first) is query_model(int_first_again)
    assert query_model(int_first) is not query_model(float_first)
    assert type(query_model(int_first).model_validate({"value": "1"}).value) is int
    assert type(query_model(float_first).model_validate({"value": "1"}).value) is float


def test_default_factories_are_compared_themselves_not_by_name() -> None:
    def first(request: Any, tags: list[str] = TAGS_A) -> None: ...

    def second(request: Any, tags: list[str] = TAGS_B) -> None: ...

    assert query_model(first).model_validate({}).tags == ["a"]
    assert query_model(second).model_validate({}).tags == ["b"]


def test_an_unhashable_annotation_gets_a_model_of_its_own_each_time() -> None:
    with pytest.raises(TypeError):
        hash(UNHASHABLE)

    def first(request: Any, value: UNHASHABLE) -> None: ...

    def second(request: Any, value: UNHASHABLE) -> None: ...

    assert query_model(first) is not query_model(second)
    assert query_model(first).model_validate({"value": "7"}).value == 7
