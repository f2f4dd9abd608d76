"""Sending a stored file (storage/file_store.py) as a download: a file in the upload folder is sent
by its path (ranges and all), a file in the database is streamed chunk by chunk, never read whole
into memory."""
from __future__ import annotations

from flask import Response, send_file

from yijianshi.storage.file_store import Content, FolderFile


def send_stored(content: Content, *, mimetype: str, as_attachment: bool, download_name: str) -> Response:
    if isinstance(content, FolderFile):
        return send_file(content.path, mimetype=mimetype, as_attachment=as_attachment,
                         download_name=download_name, max_age=0)
    response = send_file(content.reader(), mimetype=mimetype, as_attachment=as_attachment,
                         download_name=download_name, max_age=0, etag=False, conditional=False)
    response.content_length = content.size
    return response
