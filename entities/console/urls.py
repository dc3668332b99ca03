from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.console_index, name="index"),
    path("models/", views.models_page, name="models"),
    path("models/pull", views.model_pull, name="model-pull"),
    path("models/delete", views.model_delete, name="model-delete"),
    path("runs/", views.runs_page, name="runs"),
    path("runs/active", views.runs_active, name="runs-active"),
    path("runs/<str:run_id>/cancel", views.run_cancel_view, name="run-cancel"),
    path("usage/", views.usage_page, name="usage"),
]
