"""``/v1/files``: upload, list, retrieve, download, delete."""

import mimetypes
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from entities import selectors
from entities.api.parsers import MultiPartParser
from entities.api.wire import DeletedSerializer, FileSerializer, deleted
from entities.errors import InvalidRequest, PermissionDenied
from entities.services import files as services

from .base import ApiView

# Shown in the browser; anything else (SVG, HTML, ...) written by a model or uploaded by a user
# could run script on our origin with the viewer's session, so it is only ever downloaded.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

_UPLOAD = inline_serializer(
    "FileUpload", {"file": serializers.FileField(), "purpose": serializers.CharField()}
)


class FileListView(ApiView):
    serializer_class = FileSerializer
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="listFiles",
        parameters=[OpenApiParameter("purpose", str)],
        responses=FileSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        files = selectors.files_visible_to(self.user)
        if purpose := request.query_params.get("purpose"):
            files = files.filter(purpose=purpose)
        return self.list_response(files, FileSerializer)

    @extend_schema(operation_id="createFile", request={"multipart/form-data": _UPLOAD})
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidRequest("Missing required parameter: 'file'.", param="file")
        purpose = request.POST.get("purpose")
        if not purpose:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        file = services.file_create(
            owner=self.user, filename=upload.name or "file", content=upload, purpose=purpose
        )
        return Response(FileSerializer(file).data)


class FileDetailView(ApiView):
    serializer_class = FileSerializer

    @extend_schema(operation_id="retrieveFile")
    def get(self, request: Request, file_id: str) -> Response:
        return Response(FileSerializer(selectors.file_get(self.user, file_id)).data)

    @extend_schema(operation_id="deleteFile", responses={200: DeletedSerializer})
    def delete(self, request: Request, file_id: str) -> Response:
        file = selectors.file_get(self.user, file_id)
        if file.owner_id != self.user.id and not self.user.is_admin:
            raise PermissionDenied("Only the file's owner can delete it.")
        services.file_delete(file=file)
        return Response({**deleted(file_id, "file"), "object": "file"})


class AnyAccept(BaseContentNegotiation):
    """The content is the file whatever the client accepts (the openai SDK sends
    ``Accept: application/binary``); errors still come as JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class FileContentView(ApiView):
    content_negotiation_class = AnyAccept

    @extend_schema(operation_id="downloadFile", responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request: Request, file_id: str) -> FileResponse:
        file = selectors.file_get(self.user, file_id)
        content_type = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
        response = FileResponse(
            file.content.open("rb"),
            content_type=content_type,
            filename=file.filename,
            as_attachment=content_type not in INLINE_TYPES,
        )
        response["Content-Security-Policy"] = "sandbox"
        response["X-Content-Type-Options"] = "nosniff"
        return response
