"""The public subscription center: no login, the signed link is the key.

Every page is rate limited per client, never cached, and answers a bad link with
the same page whatever the reason, so it tells nothing about any contact. Lists are
named only when they are open subscription lists, by their public name: any other list
id in a link (static, closed, unknown) gets the same answer, so ids tell nothing either.

Links die when the contact's email changes or their links are reset (``contacts.links``).
``link_max_age_days`` also ends subscription-center links after that many days, but not
unsubscribe links: those in emails already sent must keep working.
"""

from collections.abc import Callable
from functools import wraps

from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from contacts.links import contact_from_token, subscription_center_url, unsubscribe_url

from . import services
from .conf import branding, center_settings, days_to_seconds
from .confirmation import confirmation_from_token
from .forms import SubscriptionForm
from .models import ConsentEvent, MarketingList
from .selectors import contact_subscription_choices, public_lists
from .throttling import client_ip, rate_limit

Source = ConsentEvent.Source
ONE_CLICK_BODY = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click


def _render(request: HttpRequest, template: str, context=None, status: int = 200):
    return render(request, template, {**branding(), **(context or {})}, status=status)


def _message(request: HttpRequest, *, title: str, message: str, status: int = 200, link=None):
    context = {"title": title, "message": message, "link": link}
    return _render(request, "subscriptions/message.html", context, status=status)


def _invalid_link(request: HttpRequest, status: int = 400) -> HttpResponse:
    return _message(
        request,
        title="This link does not work",
        message="The link is incomplete, was changed, or has expired. "
        "Please use the link in a recent email from us.",
        status=status,
    )


def _evidence(request: HttpRequest) -> dict:
    """Where a consent decision came from, for the consent log."""
    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:1000]}


def with_contact(view: Callable | None = None, *, expires: bool = True) -> Callable:
    """Turn the signed ``token`` into its contact, or answer with the bad-link page.

    With ``expires`` the link also fails after ``link_max_age_days``.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, token: str, **kwargs) -> HttpResponse:
            max_age = days_to_seconds(center_settings()["link_max_age_days"]) if expires else None
            try:
                contact = contact_from_token(token, max_age=max_age)
            except BadSignature:
                return _invalid_link(request)
            return view(request, token=token, contact=contact, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


def public(view: Callable) -> Callable:
    """Never cached, rate limited per client."""
    return never_cache(rate_limit("rate_limit")(view))


@public
@require_http_methods(["GET", "POST"])
@with_contact
def center(request: HttpRequest, *, token: str, contact) -> HttpResponse:
    choices = contact_subscription_choices(contact=contact)
    data = request.POST if request.method == "POST" else None  # all boxes off posts nothing
    form = SubscriptionForm(data, choices=choices)
    if request.method == "POST" and form.is_valid():
        services.contact_subscriptions_update(
            contact=contact,
            list_ids=[item.pk for item in form.cleaned_data["lists"]],
            source=Source.SUBSCRIPTION_CENTER,
            require_confirmation=center_settings()["double_opt_in"],
            **_evidence(request),
        )
        return redirect("subscriptions:saved", token=token)
    context = {
        "contact": contact,
        "form": form,
        "checked": form.checked_ids(),
        "unsubscribe_url": unsubscribe_url(contact, request=request),
    }
    status = 400 if form.errors else 200
    return _render(request, "subscriptions/center.html", context, status=status)


@public
@require_http_methods(["GET"])
@with_contact
def saved(request: HttpRequest, *, token: str, contact) -> HttpResponse:
    joined = [choice for choice in contact_subscription_choices(contact=contact) if choice.joined]
    context = {"contact": contact, "joined": joined, "token": token}
    return _render(request, "subscriptions/saved.html", context)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str, list_id: int | None = None) -> HttpResponse:
    """The List-Unsubscribe target: a one-click POST from a mail provider, or a page.

    Mail providers cannot send a CSRF token, so only the RFC 8058 POST skips the check;
    the page's own form is protected as usual.
    """
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == ONE_CLICK_BODY:
        return _one_click(request, token=token, list_id=list_id)
    return _unsubscribe_page(request, token=token, list_id=list_id)


def _leave(request: HttpRequest, *, contact, list_id: int | None, source: str) -> None:
    """Leave the list, whatever its kind (the contact got mail from it), or all email.

    An id of no list leaves nothing, and looks the same.
    """
    if list_id is None:
        services.contact_unsubscribe_all(contact=contact, source=source, **_evidence(request))
        return
    marketing_list = MarketingList.objects.filter(pk=list_id).first()
    if marketing_list is not None:
        services.list_unsubscribe(
            marketing_list=marketing_list, contact=contact, source=source, **_evidence(request)
        )


def _shown_list(list_id: int | None) -> dict:
    """How the page names what is left: an open subscription list by its public name;
    any other list as "this mailing list", the same for an id of no list."""
    shown = public_lists().filter(pk=list_id).first() if list_id is not None else None
    return {"one_list": list_id is not None, "marketing_list": shown}


@never_cache
@rate_limit("one_click_rate_limit")
@with_contact(expires=False)
def _one_click(request: HttpRequest, *, token: str, contact, list_id: int | None) -> HttpResponse:
    _leave(request, contact=contact, list_id=list_id, source=Source.ONE_CLICK)
    return HttpResponse("Unsubscribed.", content_type="text/plain")


@csrf_protect
@public
@with_contact(expires=False)
def _unsubscribe_page(
    request: HttpRequest, *, token: str, contact, list_id: int | None
) -> HttpResponse:
    if request.method == "POST":
        _leave(request, contact=contact, list_id=list_id, source=Source.SUBSCRIPTION_CENTER)
        context = {**_shown_list(list_id), "token": token}
        return _render(request, "subscriptions/unsubscribed.html", context)
    context = {**_shown_list(list_id), "contact": contact}
    return _render(request, "subscriptions/unsubscribe.html", context)


@public
@require_http_methods(["GET", "POST"])
@csrf_protect
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in. GET only shows a button: mail scanners follow links, people click."""
    try:
        contact, marketing_list = confirmation_from_token(token)
    except BadSignature:
        return _invalid_link(request)
    if request.method == "GET":
        return _render(request, "subscriptions/confirm.html", {"marketing_list": marketing_list})
    try:
        services.list_confirm(marketing_list=marketing_list, contact=contact, **_evidence(request))
    except services.ListError as exc:
        return _message(request, title="Nothing to confirm", message=str(exc), status=409)
    return _render(
        request,
        "subscriptions/confirmed.html",
        {
            "marketing_list": marketing_list,
            "center_url": subscription_center_url(contact, request=request),
        },
    )
