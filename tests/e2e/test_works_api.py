"""Works through the API: an author uploads a zipped bundle, reads it back and deploys it."""

from __future__ import annotations

import json
import re

from tests.conftest import Person
from tests.e2e.conftest import WORKS, Api, sample_files, zipped

WORK_ID = re.compile(r"^w-[0-9a-f]{32}$")
MANIFEST = json.loads(sample_files()["manifest.json"])


def test_an_author_uploads_a_zipped_bundle(api: Api, author: Person) -> None:
    response = api.upload(author, zipped(sample_files()))

    assert response.status_code == 201, response.text
    work = response.json()
    assert set(work) == {"id", "name", "sub_name", "owner_id", "pages", "resource_uri"}
    assert WORK_ID.match(work["id"])
    assert work["name"] == MANIFEST["name"]
    assert work["sub_name"] == MANIFEST["sub_name"]
    assert work["owner_id"] == author.caller.user_id
    assert work["pages"] == MANIFEST["pages"]
    assert work["resource_uri"] == f"{WORKS}{work['id']}/"
    assert response.headers["location"] == work["resource_uri"]


def test_an_uploaded_work_reads_back_for_its_owner_only(
    api: Api, author: Person, other_author: Person
) -> None:
    work = api.upload(author, zipped(sample_files())).json()

    mine = api.get(author, work["resource_uri"])
    theirs = api.get(other_author, work["resource_uri"])

    assert mine.status_code == 200
    assert mine.json() == work
    assert theirs.status_code == 404


def test_a_zipped_folder_with_finder_junk_uploads_too(api: Api, author: Person) -> None:
    files = {f"The Lighthouse/{name}": data for name, data in sample_files().items()}
    files["__MACOSX/The Lighthouse/._manifest.json"] = b"\x00junk"
    files["The Lighthouse/.DS_Store"] = b"\x00junk"

    response = api.upload(author, zipped(files))

    assert response.status_code == 201, response.text
    assert response.json()["pages"] == MANIFEST["pages"]


def test_an_uploaded_work_deploys_to_the_web(api: Api, author: Person) -> None:
    work = api.upload(author, zipped(sample_files())).json()

    created = api.created(author, work["id"], features={"web": True})
    api.wait_for_success(author, created["id"])
    detail = api.detail(author, created["id"]).json()

    assert detail["work_id"] == work["id"]
    assert detail["work"] == {key: work[key] for key in ("id", "name", "sub_name", "owner_id")}
    assert detail["complete"] is True
    script = api.client.get(detail["web_script"]).json()
    assert len(script["pages"]) == len(MANIFEST["pages"])
