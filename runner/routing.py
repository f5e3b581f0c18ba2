"""Websocket routes served by Channels."""

from django.urls import path

from runner import consumers

websocket_urlpatterns = [
    path("ws/runs/", consumers.RunsConsumer.as_asgi()),
    path("ws/runs/<uuid:run_id>/", consumers.RunLogConsumer.as_asgi()),
]
