from django.dispatch import Signal

# Sent after a transaction that created or changed many contacts at once commits (an
# upsert writes in bulk, so no post_save is sent per contact). Arguments: contact_ids,
# and fields: the names of the fields that changed (an account's as "account.<name>"),
# or None when any may have (contacts were created).
contacts_changed = Signal()
