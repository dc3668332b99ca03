from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from entities.api.errors import not_found_view, server_error_view
from entities.health import health_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("entities.api.urls")),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("health", health_view, name="health"),
]

handler404 = not_found_view
handler500 = server_error_view
