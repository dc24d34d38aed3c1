"""The contacts changelist's Import and Export (CSV, XLSX), and the imports' progress pages.

Export is django-import-export's, of the filtered changelist, for users who may view
contacts. Import reads the file with django-import-export's formats, then goes through
``services.imports`` (the upsert service): upload, map the columns, preview (a dry run:
counts and every row's errors, nothing written), then import.
"""

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export import resources
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from .models import Contact, ContactImport
from .services import imports
from .services.upsert import CONTACT

FORMATS = {"csv": CSV(), "xlsx": XLSX()}
MAX_FILE_BYTES = 50 * 1024 * 1024
ERRORS_SHOWN = 200
IMPORT_PERMS = ("contacts.add_contact", "contacts.change_contact")
# Header spellings files use for a field, beside the field's name and label.
ALIASES = {"e_mail": "email", "email_address": "email", "mail": "email", "zip": "postal_code"}


class ContactResource(resources.ModelResource):
    """The columns of an export: the fields an import reads back, with id and dates."""

    class Meta:
        model = Contact
        fields = ("id", *CONTACT.fields, "created_at", "updated_at")


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX, a header row first.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"A file may be at most {MAX_FILE_BYTES // 2**20} MB.")
        kind = upload.name.rsplit(".", 1)[-1].lower()
        if kind not in FORMATS:
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        try:
            self.header, self.rows = _read(FORMATS[kind], upload.read())
        except Exception as exc:  # any format library's complaint about the file
            raise forms.ValidationError(f"The file could not be read: {exc}") from exc
        if not self.header:
            raise forms.ValidationError("The file has no header row.")
        return upload


class MappingForm(forms.Form):
    """A choice per column of the file (what it is imported as), and the consent basis."""

    def __init__(self, *args, contact_import: ContactImport, **kwargs):
        super().__init__(*args, **kwargs)
        targets = imports.import_targets()
        for position, column in enumerate(contact_import.columns):
            choices = [("", "(not imported)"), *targets]
            if column not in dict(targets) and ":" in column:
                choices.append((column, column))  # a list column naming no list: refused
            self.fields[f"column_{position}"] = forms.ChoiceField(
                label=column,
                choices=choices,
                required=False,
                initial=contact_import.mapping.get(column, ""),
            )
        if basis_choices := imports.import_basis_choices():
            self.fields["basis"] = forms.ChoiceField(
                label="Consent basis",
                choices=[("", "---------"), *basis_choices],
                required=False,
                initial=contact_import.basis,
                help_text="Required when the file subscribes contacts to lists: on what "
                "grounds its contacts may be emailed.",
            )
        self.contact_import = contact_import

    def clean(self):
        data = super().clean()
        self.mapping = {
            column: data.get(f"column_{position}", "")
            for position, column in enumerate(self.contact_import.columns)
        }
        problems = imports.contacts_import_problems(
            columns=self.mapping.values(), basis=data.get("basis", "")
        )
        if problems:
            raise forms.ValidationError(problems)
        return data


class ContactImportExportMixin(ExportMixin):
    """For ``ContactAdmin``: Export of the filtered changelist, and Import."""

    resource_classes = [ContactResource]
    formats = [CSV, XLSX]
    import_export_change_list_template = "admin/contacts/contact/change_list_import_export.html"

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("contacts.view_contact")

    def has_import_permission(self, request) -> bool:
        return request.user.has_perms(IMPORT_PERMS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_upload), name="contacts_contact_import"),
            path(
                "import/<int:import_id>/",
                view(self.import_preview),
                name="contacts_contact_import_preview",
            ),
            *super().get_urls(),
        ]

    def import_upload(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            contact_import = ContactImport.objects.create(
                file_name=form.cleaned_data["file"].name[:255],
                created_by=request.user,
                columns=form.header,
                rows=form.rows,
                mapping=_guess_mapping(form.header),
                total=len(form.rows),
            )
            return HttpResponseRedirect(
                reverse("admin:contacts_contact_import_preview", args=[contact_import.pk])
            )
        return self._render(request, "upload", form=form, title="Import contacts")

    def import_preview(self, request, import_id: int):
        if not self.has_import_permission(request):
            raise PermissionDenied
        contact_import = get_object_or_404(
            ContactImport, pk=import_id, status=ContactImport.Status.PREVIEW
        )
        form = MappingForm(request.POST or None, contact_import=contact_import)
        if request.method == "POST" and form.is_valid():
            contact_import.mapping = form.mapping
            contact_import.basis = form.cleaned_data.get("basis", "")
            contact_import.save(update_fields=["mapping", "basis"])
            if "_import" in request.POST:
                return self._start(request, contact_import)
            return HttpResponseRedirect(request.path)
        problems = imports.contacts_import_problems(
            columns=contact_import.mapping.values(), basis=contact_import.basis
        )
        return self._render(
            request,
            "preview",
            form=form,
            contact_import=contact_import,
            problems=[] if form.is_bound else problems,
            preview=None if problems or form.is_bound else self._preview(contact_import),
            title=f"Import {contact_import.file_name}",
        )

    def _preview(self, contact_import: ContactImport) -> dict[str, Any]:
        result = imports.contact_import_preview(contact_import=contact_import)
        rows = [
            (error["index"] + 1, name, " ".join(texts))
            for error in result.errors[:ERRORS_SHOWN]
            for name, texts in error["errors"].items()
        ]
        return {
            "result": result,
            "errors": rows,
            "more_errors": max(len(result.errors) - ERRORS_SHOWN, 0),
            "partial": contact_import.total > imports.IN_REQUEST,
            "in_request": imports.IN_REQUEST,
        }

    def _start(self, request, contact_import: ContactImport):
        with transaction.atomic():
            locked = ContactImport.objects.select_for_update().get(pk=contact_import.pk)
            if locked.status != ContactImport.Status.PREVIEW:
                raise PermissionDenied  # imported already, from another tab
            done = imports.contact_import_start(contact_import=locked)
        if done.status == ContactImport.Status.DONE:
            messages.success(
                request,
                f"Imported {done.file_name}: {done.created} created, {done.updated} updated, "
                f"{done.unchanged} unchanged, {done.error_count} not imported.",
            )
        else:
            messages.info(request, f"{done.file_name} is being imported; this page follows it.")
        return HttpResponseRedirect(reverse("admin:contacts_contactimport_change", args=[done.pk]))

    def _render(self, request, step: str, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "has_view_permission": self.has_view_permission(request),
            **context,
        }
        return TemplateResponse(request, f"admin/contacts/contact/import_{step}.html", context)


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    """Imports and their outcome; the page of a running one follows its progress."""

    list_display = ["file_name", "status", "created_by", "created_at", "total", "percent"]
    fields = [
        "file_name",
        "status",
        "created_by",
        "created_at",
        "finished_at",
        "basis",
        "total",
        "processed",
        "created",
        "updated",
        "unchanged",
        "error_count",
    ]
    readonly_fields = fields
    change_form_template = "admin/contacts/contactimport/change_form.html"

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perms(IMPORT_PERMS)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False  # from the contacts changelist's Import

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact_import = self.get_object(request, object_id)
        running = contact_import is not None and contact_import.status in (
            ContactImport.Status.QUEUED,
            ContactImport.Status.RUNNING,
        )
        extra_context = {**(extra_context or {}), "running": running}
        if contact_import is not None:
            extra_context["import_errors"] = [
                (error["row"], name, " ".join(texts))
                for error in contact_import.errors
                for name, texts in error["errors"].items()
            ]
        return super().change_view(request, object_id, form_url, extra_context)


def _read(file_format, content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a file, every cell as text."""
    if not file_format.is_binary():
        content = content.decode("utf-8-sig")
    dataset = file_format.create_dataset(content)
    header = [str(name or "").strip() for name in (dataset.headers or [])]
    rows = [[_text(cell) for cell in row] for row in dataset]
    return header, [row for row in rows if any(row)]


def _text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, datetime.datetime) and cell.time() == datetime.time():
        return cell.date().isoformat()  # a spreadsheet's date
    if isinstance(cell, datetime.date | datetime.datetime):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _guess_mapping(header: list[str]) -> dict[str, str]:
    targets = dict(imports.import_targets())
    by_spelling = {_spelling(label): name for name, label in targets.items()}
    by_spelling.update((_spelling(name), name) for name in targets)
    by_spelling.update(ALIASES)
    mapping, taken = {}, set()
    for column in header:
        guess = column if column in targets else by_spelling.get(_spelling(column), "")
        if not guess and ":" in column:
            guess = column  # a contributed column naming nothing known: shown refused
        if guess in taken:
            guess = ""
        mapping[column] = guess
        taken.add(guess)
    return mapping


def _spelling(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").replace(":", " ").split())
