"""Permission classes for every app's API.

Kept apart from the views: DRF imports its default permission class while its
views module loads, so this module must not import any view.
"""

from collections.abc import Callable

from django.db import models
from rest_framework import permissions


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django model permissions that guard reads too: GET needs ``view_<model>``.

    DRF's own class lets any authenticated user read; a CRM's contacts are not
    for every staff account to see.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


def require_perms(*perms: str) -> type[permissions.BasePermission]:
    """A permission class for an action whose needs differ from its HTTP method's.

    A POST that only reads (an estimate) needs ``view``; a POST that changes the
    lifecycle (go live) needs its own permission rather than ``add``.
    """

    class HasPerms(permissions.BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated) and (
                request.user.has_perms(perms)
            )

    HasPerms.__name__ = HasPerms.__qualname__ = f"Requires({', '.join(perms)})"
    return HasPerms


def viewable(model: type[models.Model]) -> Callable:
    """A filter's queryset of ``model``: all of it for users who may view it, none otherwise.

    A filter naming another model's row (contacts of segment 7) reveals what that
    model's own endpoint guards, so it takes the same permission; without it any
    id is refused as not one of the choices.
    """
    perm = f"{model._meta.app_label}.view_{model._meta.model_name}"

    def queryset(request) -> models.QuerySet:
        if request is not None and request.user.has_perm(perm):
            return model._default_manager.all()
        return model._default_manager.none()

    return queryset
