"""Security groups and their API tokens in the JSON API.

Anyone signed in may list groups and their rights (as on the security groups page); changes,
members and tokens are for administrators. A new token's secret is in the creation response
only: it is stored as a hash and can never be read again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from access.api import ERRORS, ErrorOut, conflict, error_body, principal_user
from access.models import ApiToken, SecurityGroup
from access.tokens import token_create, token_revoke
from environments import services
from environments.api import require_admin
from environments.models import Environment

router = Router(tags=["security groups"])


class GroupOut(Schema):
    name: str
    description: str
    can_view: bool
    can_edit: bool
    can_run: bool
    can_approve: bool
    can_call_triggers: bool
    is_admin: bool
    deploy_environments: list[str]
    members: list[str]
    active_tokens: int


class GroupIn(Schema):
    name: str = Field(..., max_length=63)
    description: str = Field("", max_length=10000)
    can_view: bool = True
    can_edit: bool = False
    can_run: bool = False
    can_approve: bool = False
    can_call_triggers: bool = False
    is_admin: bool = False
    deploy_environments: list[str] = Field(default_factory=list, max_length=100)


class GroupChangeIn(Schema):
    """Only the fields given change."""

    description: str | None = Field(None, max_length=10000)
    can_view: bool | None = None
    can_edit: bool | None = None
    can_run: bool | None = None
    can_approve: bool | None = None
    can_call_triggers: bool | None = None
    is_admin: bool | None = None
    deploy_environments: list[str] | None = Field(None, max_length=100)


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)


class TokenOut(Schema):
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The secret, shown once: store it now")


def group_out(group: SecurityGroup) -> dict[str, Any]:
    return {
        **{field: getattr(group, field) for field in ("name", "description",
                                                      *services.RIGHT_NAMES)},
        "deploy_environments": [e.name for e in group.deploy_environments.all()],
        "members": [m.get_username() for m in group.members.all()],
        "active_tokens": group.tokens.filter(revoked_at__isnull=True).count(),
    }


def token_out(token: ApiToken) -> dict[str, Any]:
    return {"name": token.name, "prefix": token.prefix,
            "created_by": token.created_by.get_username() if token.created_by else None,
            "created_at": token.created_at, "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at}


def get_group(name: str) -> SecurityGroup:
    group = SecurityGroup.objects.filter(name=name).first()
    if group is None:
        raise Http404(f"No security group named {name}.")
    return group


def environments_named(names: list[str]) -> tuple[list[Environment], Status | None]:
    found = list(Environment.objects.filter(name__in=names))
    unknown = sorted(set(names) - {e.name for e in found})
    if unknown:
        return [], Status(400, error_body("invalid", "Some fields are invalid.", [
            {"path": "deploy_environments",
             "message": f"no environment named {', '.join(unknown)}"}]))
    return found, None


@router.get("/security-groups", response={200: list[GroupOut], **ERRORS})
def list_groups(request: HttpRequest):
    groups = SecurityGroup.objects.prefetch_related("members", "deploy_environments")
    return [group_out(g) for g in groups]


@router.post("/security-groups", response={201: GroupOut, **ERRORS},
             summary="Create a security group")
def create_group(request: HttpRequest, payload: GroupIn):
    require_admin(request)
    environments, problem = environments_named(payload.deploy_environments)
    if problem is not None:
        return problem
    rights = {right: getattr(payload, right) for right in services.RIGHT_NAMES}
    group = services.group_create(name=payload.name, description=payload.description,
                                  rights=rights, deploy_environments=environments)
    return Status(201, group_out(group))


@router.get("/security-groups/{group}", response={200: GroupOut, **ERRORS})
def get_one_group(request: HttpRequest, group: str):
    return group_out(get_group(group))


@router.patch("/security-groups/{group}", response={200: GroupOut, **ERRORS},
              summary="Change a group's description, rights or deploy environments")
def change_group(request: HttpRequest, group: str, payload: GroupChangeIn):
    require_admin(request)
    target = get_group(group)
    environments = list(target.deploy_environments.all())
    if payload.deploy_environments is not None:
        environments, problem = environments_named(payload.deploy_environments)
        if problem is not None:
            return problem
    rights = {right: getattr(target, right) if getattr(payload, right) is None
              else getattr(payload, right) for right in services.RIGHT_NAMES}
    if payload.description is not None:
        target.description = payload.description
    services.group_set_rights(group=target, rights=rights, deploy_environments=environments)
    return group_out(target)


@router.delete("/security-groups/{group}", response={204: None, 409: ErrorOut, **ERRORS},
               summary="Delete a group and its tokens (refused while a deployment names it)")
def delete_group(request: HttpRequest, group: str):
    require_admin(request)
    try:
        services.group_delete(group=get_group(group))
    except services.InUse as exc:
        return conflict(exc)
    return Status(204, None)


def get_user(username: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise Http404(f"No user named {username}.")
    return user


@router.put("/security-groups/{group}/members/{username}", response={200: GroupOut, **ERRORS},
            summary="Add a user to the group")
def add_member(request: HttpRequest, group: str, username: str):
    require_admin(request)
    target = get_group(group)
    target.members.add(get_user(username))
    return group_out(target)


@router.delete("/security-groups/{group}/members/{username}", response={204: None, **ERRORS},
               summary="Remove a user from the group")
def remove_member(request: HttpRequest, group: str, username: str):
    require_admin(request)
    target, user = get_group(group), get_user(username)
    if not target.members.filter(id=user.id).exists():
        raise Http404(f"{username} is not a member of {group}.")
    target.members.remove(user)
    return Status(204, None)


@router.get("/security-groups/{group}/tokens", response={200: list[TokenOut], **ERRORS})
def list_tokens(request: HttpRequest, group: str):
    require_admin(request)
    return [token_out(t) for t in get_group(group).tokens.select_related("created_by")]


@router.post("/security-groups/{group}/tokens", response={201: TokenCreatedOut, **ERRORS},
             summary="Create a token; its secret is in this response only")
def create_token(request: HttpRequest, group: str, payload: TokenIn):
    require_admin(request)
    token, raw = token_create(group=get_group(group), name=payload.name,
                              user=principal_user(request))
    return Status(201, {**token_out(token), "token": raw})


@router.delete("/security-groups/{group}/tokens/{prefix}", response={204: None, **ERRORS},
               summary="Revoke a token at once")
def revoke_token(request: HttpRequest, group: str, prefix: str):
    require_admin(request)
    token = ApiToken.objects.filter(group=get_group(group), prefix=prefix).first()
    if token is None:
        raise Http404(f"{group} has no token {prefix}.")
    token_revoke(token=token)
    return Status(204, None)
