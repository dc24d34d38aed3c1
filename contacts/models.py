import uuid

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
