from django.dispatch import Signal

# Sent inside the transaction that changed a segment's members, before it commits, so
# that a receiver's writes commit or roll back with the change. Argument: evaluations,
# a list of (segment id, evaluation id) whose change-log rows say who joined and left.
# Receivers must stay cheap when they have nothing to do: evaluations wait on them.
members_changed = Signal()
