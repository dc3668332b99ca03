from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.chat_view, name="chat"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="chat/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "chat/threads/<str:thread_id>/participants",
        views.ParticipantsView.as_view(),
        name="chat-participants",
    ),
]
