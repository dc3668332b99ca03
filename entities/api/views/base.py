from typing import Any

from django.db.models import QuerySet
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from entities.api.pagination import CursorListPagination
from entities.api.parsers import check_json
from entities.models import User


class ApiView(GenericAPIView):
    pagination_class = CursorListPagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # Ids in the path and the query go into lookups, which PostgreSQL refuses (a 500) when
        # they hold NUL: they are checked as a body's strings are.
        check_json({**request.query_params.dict(), **kwargs})

    @property
    def user(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # both authentication classes yield an entities User
        return user

    def validated(
        self, input_class: type[BaseSerializer], request: Request, **kwargs: Any
    ) -> dict[str, Any]:
        serializer = input_class(data=request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def list_response(self, queryset: QuerySet, serializer_class: type[BaseSerializer]) -> Response:
        page = self.paginate_queryset(queryset)
        assert page is not None
        return self.get_paginated_response(serializer_class(page, many=True).data)
