from django.dispatch import Signal

# Sent after a transaction that stored interactions commits.
# Arguments: contact_ids (the contacts that gained interactions) and types (their
# interaction types), and future_from: the earliest occurred_at later than the moment
# of storing, or None (an instant at which time alone can change what they mean).
interactions_ingested = Signal()
