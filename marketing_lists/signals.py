from django.dispatch import Signal

# Sent once a transaction that changed list memberships commits, whenever a member
# became subscribed or stopped being subscribed. Arguments: list_id (int) and
# contact_ids (a list of the contacts whose subscription changed).
list_membership_changed = Signal()
