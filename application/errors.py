"""Errors of the use cases; the HTTP layer maps each to one status code."""


class ApplicationError(Exception):
    """Base of the errors a use case raises on purpose."""


class NotFoundError(ApplicationError):
    """Unknown, or not visible to the caller (the two look the same from outside)."""


class NotAuthenticatedError(ApplicationError):
    """No credentials, or credentials that do not match a user."""


class PermissionDeniedError(ApplicationError):
    """The caller is known but may not do this."""


class ConflictError(ApplicationError):
    """The request conflicts with what is stored (idempotency key reuse, duplicate user)."""


class InvalidInputError(ApplicationError):
    """Bad input; `field` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
