"""Domain errors: a rule of the model was broken; the message says which."""


class DomainError(Exception):
    """Base of every error the domain raises."""


class InvalidIdError(DomainError, ValueError):
    """A public id is malformed or of the wrong kind."""


class InvalidFeatureError(DomainError, ValueError):
    """A migration asks for a feature that does not exist."""


class IllegalTransitionError(DomainError):
    """A command is not allowed in the migration's current status."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class OutputError(DomainError):
    """An output is not requested, or was already produced."""
