from django.db import models

from contacts.models import Contact

BUILTIN_TYPES = [
    ("email_sent", "Email sent"),
    ("email_delivered", "Email delivered"),
    ("email_opened", "Email opened"),
    ("email_clicked", "Email clicked"),
    ("email_bounced", "Email bounced"),
    ("form_submitted", "Form submitted"),
    ("event_registered", "Event registered"),
    ("event_attended", "Event attended"),
    ("page_visited", "Page visited"),
]


class Interaction(models.Model):
    """Something a contact did. Append-only: stored once, never edited."""

    # No single-column indexes: the composite ones below serve every lookup, and each
    # index slows ingestion.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    type = models.SlugField(
        max_length=64, db_index=False, help_text="A built-in type or a custom slug."
    )
    occurred_at = models.DateTimeField()
    source = models.CharField(
        max_length=200, blank=True, help_text="The email, form, event or page concerned."
    )
    channel = models.CharField(max_length=50, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    # NULL, not '': interactions sent without an id must not collide with each other.
    external_id = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, help_text="The sender's id; stored once."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # The engine's two access paths: per contact, and per campaign.
            models.Index(
                fields=["contact", "type", "occurred_at"], name="interaction_contact_type"
            ),
            models.Index(fields=["type", "source", "occurred_at"], name="interaction_type_source"),
            # Everything newest first (the API's pages, keyed on both): without it, each
            # page sorts every interaction.
            models.Index(fields=["occurred_at", "id"], name="interaction_occurred"),
        ]
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL, unique=True adds a second
            # (pattern-matching) index that nothing queries and every ingest must update.
            models.UniqueConstraint(fields=["external_id"], name="interaction_external_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} by {self.contact_id} at {self.occurred_at:%Y-%m-%d %H:%M}"
