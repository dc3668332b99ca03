"""The embedded default's channel layer: in memory in the web process, fed by other processes.

Workers are separate processes, so an in-memory layer alone would never see their events.
The web process (the one whose consumers subscribe) listens on a Unix socket in
``DATA_DIR``; any process publishes by writing one JSON line per message to it
(``inference.live``). Team mode replaces all of this with channels-redis.
"""

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from channels.layers import InMemoryChannelLayer

log = logging.getLogger(__name__)

# The longest frame (one JSON line) the socket takes: asyncio's default is 64 KiB, which one
# event of a run with long instructions can pass.
MAX_FRAME_BYTES = 16 * 1024 * 1024


class EmbeddedChannelLayer(InMemoryChannelLayer):
    def __init__(self, socket_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.socket_path = socket_path
        self._server: asyncio.AbstractServer | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None

    async def ensure_listening(self) -> None:
        """Start the socket server in this (the web process's) event loop, once."""
        loop = asyncio.get_running_loop()
        if self._server is not None and self._server_loop is loop:
            return
        path = Path(self.socket_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a socket left by an earlier web process
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(path), limit=MAX_FRAME_BYTES
        )
        self._server_loop = loop
        os.chmod(path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # past the limit: that line is dropped, the next ones go on
                    log.warning("Dropped an event frame over %d bytes", MAX_FRAME_BYTES)
                    continue
                if not line:
                    return
                try:
                    frame = json.loads(line)
                    await super().group_send(frame["group"], frame["message"])
                except (ValueError, KeyError) as exc:
                    log.warning("Dropped a malformed event frame: %s", exc)
        finally:
            writer.close()

    async def new_channel(self, prefix: str = "specific.") -> str:
        await self.ensure_listening()
        return await super().new_channel(prefix)

    async def group_add(self, group: str, channel: str) -> None:
        await self.ensure_listening()
        await super().group_add(group, channel)
