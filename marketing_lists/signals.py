from django.dispatch import Signal

# Sent once a transaction that changed list memberships commits, whenever a member
# became subscribed or stopped being subscribed. Arguments: list_id (int) and
# contact_ids (a list of the contacts whose subscription changed).
list_membership_changed = Signal()

# Sent inside the transaction that changed list memberships' status, before it commits,
# so that a receiver's writes commit or roll back with the change. Arguments: list_id,
# changes (a list of (contact id, old status or None, new status)) and source.
subscription_status_changed = Signal()
