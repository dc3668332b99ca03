"""Websocket routes; the browser chat's consumer joins them with its issue."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
