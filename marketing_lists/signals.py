from django.dispatch import Signal

# Sent on transaction commit whenever members of a list change status.
# Arguments: list_id, contact_ids (the contacts whose status changed).
list_membership_changed = Signal()
