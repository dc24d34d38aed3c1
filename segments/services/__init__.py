"""Segment services: the only path that changes segments and their members.

The admin, the API and the tasks all call these functions; none of them holds a
business rule of its own. One module per concern, one import surface here:

- ``definitions``: validation against the field registry and live references; estimates
- ``lifecycle``: create, edit in draft, go live, stop, delete, refresh on demand
- ``evaluation``: full evaluation of one segment, its queueing and the refresh schedule
- ``change_driven``: a few changed contacts re-evaluated across the live segments
  (``change_locks``: how batches run side by side; ``change_queue``: the changed
  contacts waiting, drained in batches)
- ``time_driven``: live segments follow the passing of time, edge by edge
- ``static``: static segments edited by id or by a profile condition
- ``erasure``: a contact's deletion kept apart from the evaluations writing members
- ``explain``: why a contact is or is not a member, block by block
- ``members``: a live segment's members and changes, as served to integrations
- ``to_list``: a live segment's members copied into a static marketing list

They may import the engine, the models and the lower apps; never the admin, the API
or the tasks.
"""

from ..engine import DefinitionError
from .change_driven import contacts_evaluate
from .change_queue import changes_drain, changes_drain_stale, changes_enqueue
from .definitions import (
    definition_estimate,
    definition_estimate_funnel,
    definition_sample,
    definition_validate,
    segment_estimate,
    segment_estimate_funnel,
)
from .erasure import contact_deletion_prepare
from .errors import SegmentError, SegmentInUse, SegmentLocked, SegmentNotLive
from .evaluation import live_segments_in_dependency_order, segment_evaluate, segments_refresh_due
from .explain import segment_explain
from .lifecycle import (
    EDITABLE_FIELDS,
    LOCKED_WHEN_LIVE,
    segment_create,
    segment_delete,
    segment_go_live,
    segment_live_users,
    segment_refresh,
    segment_stop,
    segment_update,
)
from .members import segment_changes, segment_members
from .static import (
    static_segment_add,
    static_segment_candidates,
    static_segment_preview,
    static_segment_remove,
)
from .time_driven import TimeStep, segments_follow_time, segments_time_edge_forward
from .to_list import segment_copy_to_list

__all__ = [
    "EDITABLE_FIELDS",
    "LOCKED_WHEN_LIVE",
    "DefinitionError",
    "SegmentError",
    "SegmentInUse",
    "SegmentLocked",
    "SegmentNotLive",
    "TimeStep",
    "contact_deletion_prepare",
    "changes_drain",
    "changes_drain_stale",
    "changes_enqueue",
    "contacts_evaluate",
    "definition_estimate",
    "definition_estimate_funnel",
    "definition_sample",
    "definition_validate",
    "live_segments_in_dependency_order",
    "segment_changes",
    "segment_copy_to_list",
    "segment_create",
    "segment_delete",
    "segment_estimate",
    "segment_estimate_funnel",
    "segment_evaluate",
    "segment_explain",
    "segment_go_live",
    "segment_live_users",
    "segment_members",
    "segment_refresh",
    "segment_stop",
    "segment_update",
    "segments_follow_time",
    "segments_time_edge_forward",
    "segments_refresh_due",
    "static_segment_add",
    "static_segment_candidates",
    "static_segment_preview",
    "static_segment_remove",
]
