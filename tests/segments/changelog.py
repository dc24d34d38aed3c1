"""The change log read back as the feed's consumers read it."""

from segments.models import MembershipChange, Segment


def assert_log_adds_up_to(segment: Segment, members: set[int]) -> None:
    """The segment's change log, replayed in id order, gives ``members``, each change
    moving a contact in or out (never added twice, never removed when absent).

    A snapshot (going live with no members stored) stands for the members at its
    evaluation, which the log does not list: so the log is undone from ``members``,
    newest first; reaching a snapshot, what is left must number its size, and before
    it there were none.
    """
    state = set(members)
    log = MembershipChange.objects.filter(segment=segment).order_by("-id")
    for contact_id, change, size in log.values_list("contact_id", "change", "size"):
        if change == MembershipChange.Change.SNAPSHOT:
            assert len(state) == size, f"{segment.name}: a snapshot of {size}, not {len(state)}"
            state = set()
        elif change == MembershipChange.Change.ADDED:
            assert contact_id in state, f"{segment.name}: contact {contact_id} added twice"
            state.remove(contact_id)
        else:
            assert contact_id not in state, f"{segment.name}: contact {contact_id} removed twice"
            state.add(contact_id)
    assert state == set(), f"{segment.name}: the log does not add up to its members"
