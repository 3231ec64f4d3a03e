"""Works: registering an author's comic and finding it again for a migration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from application.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from application.event_log import EventLog
from application.ports import WorkContent, WorkManifest, WorkSource
from application.users import Caller
from domain.errors import InvalidIdError
from domain.ids import WORK, parse_id
from domain.work import Work

AUTHOR_ONLY = "Must be an author user to perform this action."


@dataclass(frozen=True)
class WorkView:
    id: str
    name: str
    sub_name: str
    owner_id: str
    pages: tuple[str, ...]


class Works:
    """Use cases of works."""

    def __init__(self, log: EventLog, content: WorkContent) -> None:
        self.log = log
        self.content = content

    def register(
        self, owner: Caller, manifest: WorkManifest, files: Mapping[str, bytes]
    ) -> WorkView:
        """Keep the bundle's files, then record the work (an orphan folder is harmless)."""
        if not owner.can_deploy:
            raise PermissionDeniedError(AUTHOR_ONLY)
        work = Work(
            name=manifest.name,
            sub_name=manifest.sub_name,
            owner_id=owner.user_id,
            pages=list(manifest.pages),
        )
        self.content.put(work.public_id, manifest, files)
        self.log.save(work)
        return _view(work)

    def get(self, caller: Caller, work_id: str) -> WorkView:
        return _view(self.owned(caller, work_id, field=None))

    def owned(self, caller: Caller, work_id: str, field: str | None = "work_id") -> Work:
        """The work, if the caller owns it or is an admin; otherwise it does not exist for them."""
        try:
            uuid = parse_id(WORK, work_id)
        except InvalidIdError as error:
            if field:
                raise InvalidInputError(f"{field}: {error}", field=field) from None
            raise NotFoundError(str(error)) from None
        work: Work | None = self.log.get_or_none(uuid, Work, to_read=True)
        if work is None or not (caller.is_admin or work.owner_id == caller.user_id):
            message = f"no work '{work_id}' that you may deploy"
            if field:
                raise InvalidInputError(f"{field}: {message}", field=field)
            raise NotFoundError(message)
        return work

    def source_of(self, work_id: str) -> WorkSource:
        work: Work | None = self.log.get_or_none(parse_id(WORK, work_id), Work, to_read=True)
        if work is None:
            raise NotFoundError(f"no work '{work_id}'")
        return WorkSource(
            work_id=work.public_id,
            name=work.name,
            sub_name=work.sub_name,
            owner_id=work.owner_id,
            root=self.content.root_of(work.public_id),
            pages=tuple(work.pages),
        )


def _view(work: Work) -> WorkView:
    return WorkView(
        id=work.public_id,
        name=work.name,
        sub_name=work.sub_name,
        owner_id=work.owner_id,
        pages=tuple(work.pages),
    )
