from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from .views import assistants, files, models, runs, threads, users

T = "threads/<str:thread_id>"
R = f"{T}/runs/<str:run_id>"

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("assistants", assistants.AssistantListView.as_view()),
    path("assistants/<str:assistant_id>", assistants.AssistantDetailView.as_view()),
    path("function_definitions", assistants.FunctionDefinitionListView.as_view()),
    path(
        "function_definitions/<str:definition_id>",
        assistants.FunctionDefinitionDetailView.as_view(),
    ),
    path("threads", threads.ThreadListView.as_view()),
    path("threads/runs", runs.ThreadAndRunView.as_view()),
    path(T, threads.ThreadDetailView.as_view()),
    path(f"{T}/messages", threads.MessageListView.as_view()),
    path(f"{T}/messages/<str:message_id>", threads.MessageDetailView.as_view()),
    path(f"{T}/runs", runs.RunListView.as_view()),
    path(R, runs.RunDetailView.as_view()),
    path(f"{R}/cancel", runs.RunCancelView.as_view()),
    path(f"{R}/submit_tool_outputs", runs.SubmitToolOutputsView.as_view()),
    path(f"{R}/events", runs.RunEventsView.as_view()),
    path(f"{R}/steps", runs.RunStepListView.as_view()),
    path(f"{R}/steps/<str:step_id>", runs.RunStepDetailView.as_view()),
    path("models", models.ModelListView.as_view()),
    path("files", files.FileListView.as_view()),
    path("files/<str:file_id>", files.FileDetailView.as_view()),
    path("files/<str:file_id>/content", files.FileContentView.as_view()),
    path("users", users.UserListView.as_view()),
    path("users/me", users.UserMeView.as_view()),
    path("users/<str:user_id>", users.UserDetailView.as_view()),
    path("users/<str:user_id>/threads", users.UserThreadsView.as_view()),
    path("users/<str:user_id>/api_keys", users.UserApiKeyListView.as_view()),
    path("users/<str:user_id>/api_keys/<str:key_id>", users.UserApiKeyDetailView.as_view()),
]
