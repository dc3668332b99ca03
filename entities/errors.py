"""Errors the services raise; the API turns each into OpenAI's error body and status."""


class EntitiesError(Exception):
    status_code = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(EntitiesError):
    pass


class NotFound(EntitiesError):
    status_code = 404


class Conflict(EntitiesError):
    status_code = 409


class PermissionDenied(EntitiesError):
    status_code = 403
