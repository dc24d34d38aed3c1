from django.dispatch import Signal

# Sent after a transaction that stored interactions commits.
# Arguments: contact_ids (a set of the contacts that gained interactions).
interactions_ingested = Signal()
