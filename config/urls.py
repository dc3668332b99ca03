from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from entities.api.errors import not_found_view, server_error_view
from entities.health import health_view
from inference.metrics import metrics_view

urlpatterns = [
    path("admin/console/", include("entities.console.urls")),  # before admin/, which would 404
    path("admin/", admin.site.urls),
    path("v1/", include("entities.api.urls")),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("health", health_view, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("entities.chat.urls")),  # the browser chat at /, its login and logout
]

handler404 = not_found_view
handler500 = server_error_view
