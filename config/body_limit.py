"""The request body-size limit inside daphne, held while the body arrives.

daphne (twisted) collects a request's whole body, in memory or in a temporary file, before
the ASGI app starts, and then queues all of it in memory for the app at once: Django's own
check (entities.api.middleware) comes after a 1 GiB body has been held. This request counts
the bytes as they arrive, with or without a Content-Length: past the limit it keeps none of
them, and when the body ends it answers 413 itself, without starting the app. It answers once
the client has sent its body, since a connection closed under a client still sending can lose
the answer; the connection stays usable.

daphne takes no request class of ours, so ``install()`` puts this one where its HTTP factory
looks for it. config/asgi.py calls it: every way of starting daphne (``daphne
config.asgi:application``, ``manage.py runserver``) imports the app before it builds that
factory.
"""

import json
from typing import Any

from daphne import http_protocol

from entities.api.middleware import body_limit, too_large_body


class BodyLimitedRequest(http_protocol.WebRequest):
    body_limit: int | None = None
    body_received = 0
    body_too_large = False

    def gotLength(self, length: int | None) -> None:
        content_type = self.requestHeaders.getRawHeaders(b"content-type") or [b""]
        self.body_limit = body_limit(content_type[0].decode("latin-1"))
        self.body_received = 0
        self.body_too_large = self._over(length or 0)
        # Past the limit nothing is kept, so no file is made for it either.
        super().gotLength(0 if self.body_too_large else length)

    def handleContentChunk(self, data: bytes) -> None:
        self.body_received += len(data)
        if not self.body_too_large and self._over(self.body_received):
            self.body_too_large = True
            self.content.seek(0)
            self.content.truncate()
        if not self.body_too_large:
            super().handleContentChunk(data)

    def process(self) -> Any:
        if not self.body_too_large:
            return super().process()
        assert self.body_limit is not None
        length = max(self.body_received, int(self.getHeader(b"content-length") or 0))
        body = json.dumps(too_large_body(length, self.body_limit)).encode()
        headers = [(b"Content-Type", b"application/json"), (b"Content-Length", b"%d" % len(body))]
        self.handle_reply({"type": "http.response.start", "status": 413, "headers": headers})
        self.handle_reply({"type": "http.response.body", "body": body})
        return None

    def _over(self, length: int) -> bool:
        return self.body_limit is not None and length > self.body_limit


def install() -> None:
    http_protocol.WebRequest = BodyLimitedRequest
