"""Who may see a segment's members: the one rule the API and the admin both apply.

A segment's members are contacts. Listing them, their changes or a CSV of them, and
counting the contacts a condition selects (an estimate answers "does anyone match
email = x and birth date = y?"), reveal contact data, so they take permission to
view contacts on top of the permission to view the segment. The segment's size, its
definition and its history stay visible with the segment permission alone.
"""

from rest_framework import permissions

VIEW_CONTACT = "contacts.view_contact"
MEMBERS_DENIED = (
    "Seeing a segment's members, or estimating a condition, needs permission to view contacts."
)


def may_see_members(user) -> bool:
    """Whether ``user`` may see contact data through segments (given they may view segments)."""
    return bool(user and user.is_authenticated and user.has_perm(VIEW_CONTACT))


class SeesMembers(permissions.BasePermission):
    """API actions that answer with members, or with a count of contacts by condition."""

    message = MEMBERS_DENIED

    def has_permission(self, request, view) -> bool:
        return may_see_members(request.user)
