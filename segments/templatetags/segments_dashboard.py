"""Template tags for the admin home page: the dashboard's data and the apps' order.

They work with any ``AdminSite``: a host project's ``admin/index.html`` loads this
library and calls them, as this project's does.
"""

from django import template

from ..admin.dashboard import apps_in_marketing_order, dashboard_for

register = template.Library()


@register.simple_tag(takes_context=True)
def segments_dashboard(context) -> dict | None:
    return dashboard_for(context["request"].user)


@register.filter
def in_marketing_order(app_list: list[dict]) -> list[dict]:
    return apps_in_marketing_order(app_list)
