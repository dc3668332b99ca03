"""Websocket routes: the browser chat's thread consumer (protocol in docs/chat.md)."""

from django.urls import URLPattern, path

from entities.chat.consumers import ThreadConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/threads/<str:thread_id>/", ThreadConsumer.as_asgi()),
]
