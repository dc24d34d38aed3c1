import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Account(models.Model):
    """A company that contacts work for."""

    name = models.CharField(max_length=200)
    industry = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2 code")
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(Lower("name"), name="account_name_lower")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person who may receive marketing."""

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2 code")
    postal_code = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=10, blank=True)
    lead_score = models.IntegerField(null=True, blank=True)
    customer_since = models.DateField(null=True, blank=True)
    do_not_email = models.BooleanField(default=False)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    attributes = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    # Random and never shown in the admin: public links sign this, not the id.
    public_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            # Case-insensitive uniqueness, enforced by the database itself.
            models.UniqueConstraint(
                Lower("email"),
                name="contact_email_ci_unique",
                violation_error_message="A contact with this email already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactImport(models.Model):
    """A file of contacts imported in the admin: its rows until imported, then the outcome."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Previewed, not imported"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    file_name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREVIEW)
    columns = models.JSONField(default=list, help_text="The file's header.")
    mapping = models.JSONField(
        default=dict, help_text="File column to the field or column it is imported as."
    )
    rows = models.JSONField(default=list, help_text="The file's cells; emptied once imported.")
    basis = models.CharField(
        max_length=30, blank=True, help_text="The consent basis declared for list columns."
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="The first errors, by row of the file.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 0
