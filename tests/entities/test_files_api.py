"""Files: upload, list, retrieve, content, delete; owners only."""

from rest_framework.test import APIClient


def upload(client: APIClient, name: str = "data.csv", body: bytes = b"x,y\n1,2\n") -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/v1/files",
        {"file": SimpleUploadedFile(name, body), "purpose": "assistants"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_upload_retrieve_download_delete(as_alice: APIClient) -> None:
    made = upload(as_alice)
    assert made["id"].startswith("file_")
    assert (made["object"], made["filename"], made["bytes"]) == ("file", "data.csv", 8)
    assert (made["purpose"], made["status"]) == ("assistants", "processed")
    assert as_alice.get(f"/v1/files/{made['id']}").json()["filename"] == "data.csv"
    content = as_alice.get(f"/v1/files/{made['id']}/content")
    assert b"".join(content.streaming_content) == b"x,y\n1,2\n"  # type: ignore[attr-defined]
    assert content["Content-Type"] == "text/csv"
    assert [f["id"] for f in as_alice.get("/v1/files").json()["data"]] == [made["id"]]
    assert as_alice.delete(f"/v1/files/{made['id']}").json()["deleted"] is True
    assert as_alice.get(f"/v1/files/{made['id']}").status_code == 404


def test_files_are_their_owners(as_alice: APIClient, as_bob: APIClient) -> None:
    made = upload(as_alice)
    assert as_bob.get(f"/v1/files/{made['id']}").status_code == 404
    assert as_bob.get(f"/v1/files/{made['id']}/content").status_code == 404
    assert as_bob.delete(f"/v1/files/{made['id']}").status_code == 404
    assert as_bob.get("/v1/files").json()["data"] == []
    # and bob cannot attach it to his messages
    thread = as_bob.post("/v1/threads", {}).json()
    attach = {"role": "user", "content": "see", "attachments": [{"file_id": made["id"]}]}
    assert as_bob.post(f"/v1/threads/{thread['id']}/messages", attach).status_code == 400


def test_upload_errors(as_alice: APIClient) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    no_file = as_alice.post("/v1/files", {"purpose": "assistants"}, format="multipart")
    assert no_file.json()["error"]["param"] == "file"
    bad = as_alice.post(
        "/v1/files",
        {"file": SimpleUploadedFile("a.txt", b"a"), "purpose": "memes"},
        format="multipart",
    )
    assert bad.json()["error"]["param"] == "purpose"


def test_a_path_in_the_filename_is_flattened(as_alice: APIClient) -> None:
    made = upload(as_alice, name="../../etc/passwd")
    assert "/" not in made["filename"]


def test_content_ignores_what_the_client_accepts(as_alice: APIClient) -> None:
    made = upload(as_alice)
    content = as_alice.get(f"/v1/files/{made['id']}/content", HTTP_ACCEPT="application/binary")
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == b"x,y\n1,2\n"  # type: ignore[attr-defined]


def test_form_fields_are_checked_as_json_text_is(as_alice: APIClient) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = as_alice.post(
        "/v1/files",
        {"file": SimpleUploadedFile("a.txt", b"a"), "purpose": "assistants\u0000"},
        format="multipart",
    )
    assert bad.status_code == 400, bad.content
    assert bad.json()["error"]["param"] == "purpose"
    assert "NUL" in bad.json()["error"]["message"]
    assert as_alice.get("/v1/files").json()["data"] == []
