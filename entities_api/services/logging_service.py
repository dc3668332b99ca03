"""``LoggingUtility``: the original library's logger, over the standard ``logging`` module."""

import logging
from typing import Any


class LoggingUtility:
    """debug / info / warning / error / exception on a named logger (``entities_api``).

    It adds no handler: configure ``logging`` as your application does (without any
    configuration, Python prints warnings and errors to stderr).
    """

    def __init__(self, name: str = "entities_api", level: int | str | None = None) -> None:
        self.logger = logging.getLogger(name)
        if level is not None:
            self.logger.setLevel(level)

    def debug(self, message: str, *args: Any) -> None:
        self.logger.debug(message, *args)

    def info(self, message: str, *args: Any) -> None:
        self.logger.info(message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self.logger.warning(message, *args)

    def error(self, message: str, *args: Any) -> None:
        self.logger.error(message, *args)

    def exception(self, message: str, *args: Any) -> None:
        """An error with the current exception's traceback."""
        self.logger.exception(message, *args)
