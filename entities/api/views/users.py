"""Our extensions: users (admins manage them), their threads, and their API keys."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.inputs import ApiKeyInput, UserInput
from entities.api.wire import (
    ApiKeySerializer,
    DeletedSerializer,
    NewApiKeySerializer,
    ThreadSerializer,
    UserSerializer,
    deleted,
)
from entities.errors import PermissionDenied
from entities.services import users as services

from .base import ApiView


class UserListView(ApiView):
    serializer_class = UserSerializer

    def _require_admin(self) -> None:
        if not self.user.is_admin:
            raise PermissionDenied("Only admins manage users.")

    @extend_schema(operation_id="listUsers", responses=UserSerializer(many=True))
    def get(self, request: Request) -> Response:
        self._require_admin()
        return self.list_response(selectors.users_visible_to(self.user), UserSerializer)

    @extend_schema(operation_id="createUser", request=UserInput)
    def post(self, request: Request) -> Response:
        self._require_admin()
        user = services.user_create(**self.validated(UserInput, request))
        return Response(UserSerializer(user).data)


class UserMeView(ApiView):
    serializer_class = UserSerializer

    @extend_schema(operation_id="getCurrentUser")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(self.user).data)


class UserDetailView(ApiView):
    serializer_class = UserSerializer

    @extend_schema(operation_id="getUser")
    def get(self, request: Request, user_id: str) -> Response:
        return Response(UserSerializer(selectors.user_get(self.user, user_id)).data)

    @extend_schema(operation_id="modifyUser", request=UserInput)
    def post(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(self.user, user_id)
        data = self.validated(UserInput, request, creating=False)
        if "is_admin" in data and not self.user.is_admin:
            raise PermissionDenied("Only admins can change is_admin.")
        return Response(UserSerializer(services.user_update(user=user, **data)).data)

    @extend_schema(operation_id="deleteUser", responses={200: DeletedSerializer})
    def delete(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(self.user, user_id)
        if not self.user.is_admin:
            raise PermissionDenied("Only admins delete users.")
        services.user_delete(user=user, by=self.user)
        return Response(deleted(user_id, "user"))


class UserThreadsView(ApiView):
    serializer_class = ThreadSerializer

    @extend_schema(operation_id="listUserThreads", responses=ThreadSerializer(many=True))
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(self.user, user_id)
        threads = selectors.threads_visible_to(self.user).filter(participants=user)
        return self.list_response(threads, ThreadSerializer)


class UserApiKeyListView(ApiView):
    serializer_class = ApiKeySerializer

    @extend_schema(operation_id="listApiKeys", responses=ApiKeySerializer(many=True))
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(self.user, user_id)
        return self.list_response(user.api_keys.all(), ApiKeySerializer)

    @extend_schema(operation_id="createApiKey", request=ApiKeyInput, responses=NewApiKeySerializer)
    def post(self, request: Request, user_id: str) -> Response:
        """Create a key; the response carries it in ``key``, the only time it is shown."""
        user = selectors.user_get(self.user, user_id)
        key, raw = services.api_key_create(user=user, **self.validated(ApiKeyInput, request))
        return Response(NewApiKeySerializer(key, context={"key": raw}).data)


class UserApiKeyDetailView(ApiView):
    serializer_class = ApiKeySerializer

    @extend_schema(operation_id="getApiKey")
    def get(self, request: Request, user_id: str, key_id: str) -> Response:
        key = selectors.api_key_get(selectors.user_get(self.user, user_id), key_id)
        return Response(ApiKeySerializer(key).data)

    @extend_schema(operation_id="revokeApiKey", responses={200: ApiKeySerializer})
    def delete(self, request: Request, user_id: str, key_id: str) -> Response:
        """Revoke the key: it stops working at once and stays listed with ``revoked_at``."""
        key = selectors.api_key_get(selectors.user_get(self.user, user_id), key_id)
        return Response(ApiKeySerializer(services.api_key_revoke(key=key)).data)
