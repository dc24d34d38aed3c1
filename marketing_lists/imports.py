"""List columns in a contacts import: ``list:<name or id>`` subscribes the row's contact.

Installed as contacts' ``ImportColumns`` when the app is ready. A "yes" cell subscribes
through ``list_add_members``, so the consent rules hold: only with a declared consent basis,
one consent event per subscription (source ``import``), and never a contact who said no
themselves (reported on the row). A "no" or empty cell changes nothing: an import
subscribes, it does not unsubscribe.
"""

from contacts.services.imports import ImportColumns, import_columns

from .models import ConsentEvent, ListMembership, MarketingList
from .services import list_add_members

PREFIX = "list:"
YES = {"yes", "y", "true", "1", "x", "subscribed"}
NO = {"no", "n", "false", "0", ""}
NOT_SUBSCRIBED = {
    ListMembership.Status.PENDING: "Asked to confirm by email: only their confirmation "
    "subscribes them.",
    None: "Not subscribed: the contact said no themselves (to this list or to all email); "
    "ask them to confirm by email instead.",
}


class ListColumns(ImportColumns):
    prefix = PREFIX
    label = "Marketing lists"
    basis_choices = ConsentEvent.Basis.choices

    def targets(self) -> list[tuple[str, str]]:
        lists = MarketingList.objects.filter(is_active=True).order_by("name")
        return [
            (f"{PREFIX}{name}", f"Subscribe to “{name}”")
            for name in lists.values_list("name", flat=True)
        ]

    def problems(self, *, columns: list[str], basis: str) -> list[str]:
        problems = [
            f"“{column}” names no active list (by name or id)."
            for column, found in _lists(columns).items()
            if found is None
        ]
        if basis not in ConsentEvent.Basis.values:
            problems.append(
                "Columns that subscribe contacts to lists need a consent basis: "
                "say on what grounds the file's contacts may be emailed."
            )
        return problems

    def apply(self, *, cells, contact_ids, basis, actor):
        errors: dict[int, dict[str, list[str]]] = {}
        columns = sorted({column for row in cells.values() for column in row})
        for column, marketing_list in _lists(columns).items():
            wanted: dict[int, int] = {}  # contact id to row index
            for index, row in cells.items():
                answer = row.get(column, "").strip().lower()
                if answer in YES and contact_ids[index] is not None:
                    wanted[contact_ids[index]] = index
                elif answer not in YES | NO:
                    errors.setdefault(index, {})[column] = ["Say yes or no."]
            if marketing_list is None or not wanted:
                continue
            list_add_members(
                marketing_list=marketing_list,
                contact_ids=list(wanted),
                source=ConsentEvent.Source.IMPORT,
                actor=actor,
                basis=basis,
            )
            status = dict(
                ListMembership.objects.filter(
                    list=marketing_list, contact_id__in=list(wanted)
                ).values_list("contact_id", "status")
            )
            for contact_id, index in wanted.items():
                if status.get(contact_id) != ListMembership.Status.SUBSCRIBED:
                    message = NOT_SUBSCRIBED.get(status.get(contact_id), NOT_SUBSCRIBED[None])
                    errors.setdefault(index, {})[column] = [message]
        return errors


def _lists(columns: list[str]) -> dict[str, MarketingList | None]:
    """Each column's active list, by id or by name (case-insensitively), or None."""
    active = list(MarketingList.objects.filter(is_active=True))
    found: dict[str, MarketingList | None] = {}
    for column in columns:
        key = column.removeprefix(PREFIX).strip()
        matches = [
            item for item in active if str(item.pk) == key or item.name.lower() == key.lower()
        ]
        found[column] = matches[0] if len(matches) == 1 else None
    return found


import_columns(ListColumns())
