"""Deploy rights: which users may deploy to, and promote into, an environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from access.permissions import is_administrator
from environments.models import Environment

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def user_may_deploy_to(user: AbstractBaseUser, environment: Environment) -> bool:
    if is_administrator(user):
        return True
    return user.security_groups.filter(deploy_environments=environment).exists()
