"""HTTP and websocket routing. Django is set up before anything imports models."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import body_limit  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from inference.background import LiveEventsMiddleware, start_reaper  # noqa: E402

body_limit.install()
start_reaper()

application = LiveEventsMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)
