"""The exceptions segment services raise: ``str()`` of each is a message for the user."""


class SegmentError(Exception):
    """A refused segment operation; ``str()`` is a message for the user."""


class SegmentInUse(SegmentError):
    pass


class SegmentLocked(SegmentError):
    pass


class SegmentNotLive(SegmentError):
    """The segment's members were asked for while it is not live (not kept up to date)."""
