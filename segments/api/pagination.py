"""Cursor pagination of a live segment's members and of their changes."""

from rest_framework import exceptions, pagination


class MemberPagination(pagination.CursorPagination):
    # Keyed on the (segment, contact) primary key: fast at any depth, no COUNT.
    ordering = "contact_id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        # The position is compared with a bigint column: anything else is no cursor of ours.
        cursor = super().decode_cursor(request)
        position = cursor and cursor.position
        if position is not None and not (position.isdigit() and int(position) < 2**63):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


class ChangePagination(MemberPagination):
    # Ids grow as changes are recorded, so id order is the order they happened in.
    ordering = "id"
