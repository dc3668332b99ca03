from pathlib import Path
from typing import IO

from entities_api.pagination import Pager
from entities_api.types import Deleted, File

from .base import Service


class FileService(Service):
    def upload_file(
        self,
        file: str | Path | bytes | IO[bytes],
        *,
        purpose: str = "assistants",
        filename: str | None = None,
    ) -> File:
        """Upload a path, bytes or a binary file object; ``filename`` names bytes."""
        if isinstance(file, str | Path):
            path = Path(file)
            with path.open("rb") as handle:
                return self.upload_file(handle, purpose=purpose, filename=filename or path.name)
        if isinstance(file, bytes):
            content: bytes | IO[bytes] = file
            name = filename or "file"
        else:
            content = file
            name = filename or Path(str(getattr(file, "name", "file"))).name
        response = self._transport.request(
            "POST", "files", data={"purpose": purpose}, files={"file": (name, content)}
        )
        return File.from_dict(response.json())

    create_file = upload_file

    def retrieve_file(self, file_id: str) -> File:
        return File.from_dict(self._transport.get(f"files/{file_id}"))

    def retrieve_file_content(self, file_id: str) -> bytes:
        return self._transport.request("GET", f"files/{file_id}/content").content

    def delete_file(self, file_id: str) -> Deleted:
        return Deleted.from_dict(self._transport.delete(f"files/{file_id}"))

    def list_files(
        self,
        *,
        purpose: str | None = None,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[File]:
        return self._pager(
            "files",
            File.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
            purpose=purpose,
        )
