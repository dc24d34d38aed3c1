"""REST API for segments: CRUD, lifecycle, estimates, members and their changes.

Every write goes through ``segments.services``; this package only translates
HTTP to service calls and service errors to HTTP:

- an invalid definition -> 400 ``{"definition": {"<path>": ["message"]}}``, the
  path being inside the definition (``blocks[1].where.all[0].op``) and
  ``non_field_errors`` for the definition as a whole; a bad condition given to
  ``members/add/`` or ``members/remove/`` is reported the same way under ``where``;
- a segment that is live and locked, or used by a live segment, or the members or
  changes of a segment that is not live -> 409 ``{"detail": "message"}``; any other
  refused operation -> 400 ``{"detail": ...}``.

Members, their changes and estimates reveal contact data: they take
``contacts.view_contact`` on top of the segment permission (``segments.permissions``).

``views`` holds the viewset, ``serializers`` the request and response bodies,
``filters`` the segment filter set and the contacts' ``segment`` filter,
``pagination`` the cursor pagination of members and changes, and ``exceptions``
the mapping of service errors to responses.
"""

from .views import SegmentViewSet

__all__ = ["SegmentViewSet"]
