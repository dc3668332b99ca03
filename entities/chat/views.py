"""The chat page and the one thing it needs beyond ``/v1``: who takes part in a thread.

Everything else the page reads and writes through the REST API with the session, and streams
over the thread websocket (``entities.chat.consumers``).
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import Input, Text
from entities.api.views.base import ApiView
from entities.errors import InvalidRequest
from entities.models import Thread, User
from entities.services.threads import thread_update
from entities.services.users import user_for_account


@login_required
def chat_view(request: HttpRequest) -> HttpResponse:
    user = user_for_account(request.user)  # type: ignore[arg-type]
    config = {
        "user": {"id": user.id, "name": user.name, "is_admin": user.is_admin},
        "csrf_token": get_token(request),
    }
    return render(request, "chat/index.html", {"person": user, "chat_config": config})


class InviteInput(Input):
    user = Text(max_length=254, help_text="A login name, an email address or a user id.")


def _participants(thread: Thread) -> dict[str, Any]:
    people = thread.participants.order_by("name")
    return {"object": "list", "data": [{"id": u.id, "name": u.name} for u in people]}


def _invitee(who: str) -> User:
    found = User.objects.filter(
        Q(pk=who) | Q(account__username=who) | (Q(email__iexact=who) & ~Q(email=""))
    ).first()
    if found is None:
        raise InvalidRequest(f"Nobody has the login, email or id '{who}'.", param="user")
    return found


class ParticipantsView(ApiView):
    """``GET`` the names of a thread's participants; ``POST {"user": …}`` invites one more."""

    @extend_schema(exclude=True)
    def get(self, request: Request, thread_id: str) -> Response:
        return Response(_participants(selectors.thread_get(self.user, thread_id)))

    @extend_schema(exclude=True)
    def post(self, request: Request, thread_id: str) -> Response:
        thread = selectors.thread_get(self.user, thread_id)
        invitee = _invitee(self.validated(InviteInput, request)["user"])
        ids = [u.id for u in thread.participants.all()]
        if invitee.id not in ids:
            thread_update(thread=thread, participant_ids=[*ids, invitee.id])
        return Response(_participants(thread))
