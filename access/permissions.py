"""Who may do what: rights come from security groups, scoped by workflow perimeters.

A right on a workflow is granted when the user belongs to a group that has the right and that
group is one of the workflow's perimeters; administrators' groups and superusers have every right.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet

from access.models import SecurityGroup

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User
    from django.db.models.fields.related_descriptors import ManyRelatedManager

    # The acting user of a browser session, typed as `request.user` is.
    AnyUser: TypeAlias = User | AnonymousUser
    # Who acts: a user (browser session) or a security group (an API token's).
    Principal: TypeAlias = SecurityGroup | User | AnonymousUser


class Workflow(Protocol):
    """A workflow as this layer sees it: a model whose `perimeters` are a many-to-many to
    SecurityGroup (related name "workflows"). This layer names no app above it."""

    @property
    def pk(self) -> uuid.UUID: ...

    @property
    def perimeters(self) -> ManyRelatedManager[SecurityGroup, Any]: ...


_M = TypeVar("_M", bound=Model)

WorkflowRight = Literal["view", "edit", "run", "approve"]
RIGHT_FIELDS: dict[str, str] = {
    "view": "can_view",
    "edit": "can_edit",
    "run": "can_run",
    "approve": "can_approve",
}


def is_administrator(user: AnyUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.security_groups.filter(is_admin=True).exists()


def may_make_token(user: AnyUser, group: SecurityGroup) -> bool:
    """An administrator, or a member of the group (whose rights the token carries)."""
    return is_administrator(user) or (
        user.is_authenticated and group.members.filter(id=user.id).exists())


def token_groups_for(user: AnyUser, names: set[str]) -> set[str]:
    """Of the named groups, those whose tokens `user` may make."""
    return {group.name for group in SecurityGroup.objects.filter(name__in=names)
            if may_make_token(user, group)}


def groups_with_right(user: User, right: WorkflowRight) -> QuerySet[SecurityGroup]:
    return user.security_groups.filter(**{RIGHT_FIELDS[right]: True})


def user_has_workflow_right(user: AnyUser, workflow: Workflow, right: WorkflowRight) -> bool:
    if is_administrator(user):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return groups_with_right(user, right).filter(workflows=workflow.pk).exists()


def workflows_visible_to(user: AnyUser, queryset: QuerySet[_M]) -> QuerySet[_M]:
    """Filter a Workflow queryset down to the perimeter the user may view."""
    if is_administrator(user):
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    group_ids = groups_with_right(user, "view").values("id")
    return queryset.filter(Q(perimeters__in=group_ids)).distinct()


def group_has_workflow_right(
    group: SecurityGroup, workflow: Workflow, right: WorkflowRight
) -> bool:
    """The rights of an API token are those of its group, within the group's perimeter."""
    if group.is_admin:
        return True
    if not getattr(group, RIGHT_FIELDS[right]):
        return False
    return workflow.perimeters.filter(id=group.id).exists()


def principal_has_workflow_right(
    principal: Principal, workflow: Workflow, right: WorkflowRight
) -> bool:
    """A principal is a user (browser session) or a security group (API token)."""
    if isinstance(principal, SecurityGroup):
        return group_has_workflow_right(principal, workflow, right)
    return user_has_workflow_right(principal, workflow, right)


def workflows_visible_to_principal(principal: Principal, queryset: QuerySet[_M]) -> QuerySet[_M]:
    if isinstance(principal, SecurityGroup):
        if principal.is_admin:
            return queryset
        if not principal.can_view:
            return queryset.none()
        return queryset.filter(perimeters=principal).distinct()
    return workflows_visible_to(principal, queryset)


def creator_perimeters(principal: Principal) -> list[SecurityGroup]:
    """The groups a new workflow joins so that its creator may edit it; refused without the
    edit right. An API token's workflow joins the token's group."""
    if isinstance(principal, SecurityGroup):
        if not (principal.is_admin or principal.can_edit):
            raise PermissionDenied("This token's group has no edit right: it may not create "
                                   "workflows.")
        return [principal]
    if not principal.is_authenticated:  # behind login: an anonymous visitor never gets here
        raise PermissionDenied("You need a security group with the edit right.")
    groups = list(principal.security_groups.filter(can_edit=True))
    if not groups and not is_administrator(principal):
        raise PermissionDenied("You need a security group with the edit right.")
    return groups
