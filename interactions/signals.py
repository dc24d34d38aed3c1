from django.dispatch import Signal

# Sent after a transaction that stored interactions commits.
# Arguments: contact_ids (the contacts that gained interactions) and types (their
# interaction types).
interactions_ingested = Signal()
