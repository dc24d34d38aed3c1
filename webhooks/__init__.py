"""Signed webhooks: membership, subscription and erasure changes pushed to other systems.

Changes in the apps below send Django signals inside their own transactions; the
receivers here write outbox rows in that same transaction, so a rolled-back change
sends nothing and a committed one is never lost. A django-q2 task delivers each
endpoint's messages in order, signed to the Standard Webhooks specification, with
retries on exponential backoff, and disables an endpoint that keeps failing.
"""
