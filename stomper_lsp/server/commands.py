"""`workspace/executeCommand`: stomper.fixFile, stomper.fixAll, stomper.resume, stomper.cancel.

Arguments arrive as whatever the client's keybinding or code action sent: a URI string,
or an object with a `uri`. Anything else is answered with InvalidParams naming the shape
expected; a URI that is not a file in a workspace folder too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInvalidParams

from stomper_lsp.server.documents import is_python, open_document
from stomper_lsp.server.projects import ProjectHandle, uri_to_path
from stomper_lsp.server.protocol import shorten

if TYPE_CHECKING:
    from stomper_lsp.server.server import StomperServer


def uri_argument(command: str, args: Sequence[object]) -> str | None:
    """The optional single URI argument of `command`."""
    if not args:
        return None
    if len(args) > 1:
        raise JsonRpcInvalidParams(f"{command} takes at most one argument (a URI), got {len(args)}")
    value = args[0]
    if isinstance(value, Mapping) and isinstance(value.get("uri"), str):
        value = value["uri"]
    if not isinstance(value, str) or not value:
        raise JsonRpcInvalidParams(
            f"{command} expects a URI string or {{\"uri\": ...}}, got {type(value).__name__}"
        )
    return value


class Commands:
    def __init__(self, server: StomperServer) -> None:
        self._server = server

    def fix_file(self, args: Sequence[object]) -> dict[str, Any]:
        command = "stomper.fixFile"
        uri = uri_argument(command, args)
        if uri is None:
            raise JsonRpcInvalidParams(f"{command} needs the URI of the file to fix")
        path = uri_to_path(uri)
        if path is None:
            raise JsonRpcInvalidParams(f"{command}: {shorten(uri, 200)} is not a file: URI")
        path = path.resolve()
        document = open_document(self._server.workspace, uri)
        if not is_python(path, document.language_id if document else None):
            raise JsonRpcInvalidParams(f"{command}: {path.name} is not a Python file")
        handle = self._server.registry.handle_for_path(path)
        rel = handle.relative(path) if handle else None
        if handle is None or rel is None:
            raise JsonRpcInvalidParams(f"{command}: {path} is outside every workspace folder")
        if document is None and not path.is_file():
            raise JsonRpcInvalidParams(f"{command}: {path} does not exist")
        return self._server.fixes.start(handle, [rel])

    def fix_all(self, args: Sequence[object], *, resume: bool = False) -> dict[str, Any]:
        """stomper.fixAll; with `resume` (stomper.resume), files an interrupted fix-all of
        the same snapshot and settings finished are reused, not re-run."""
        command = "stomper.resume" if resume else "stomper.fixAll"
        uri = uri_argument(command, args)
        handles = self._handles(command, uri)
        if not handles:
            raise JsonRpcInvalidParams(f"{command}: no workspace folder is open")
        runs = [self._server.fixes.start(handle, None, resume=resume) for handle in handles]
        return runs[0] if len(runs) == 1 else {"runs": runs}

    def cancel(self, args: Sequence[object]) -> dict[str, Any]:
        uri = uri_argument("stomper.cancel", args)
        if uri is None:
            cancelled = self._server.fixes.cancel()
        else:
            handles = self._handles("stomper.cancel", uri)
            cancelled = sum(self._server.fixes.cancel(h.folder.uri) for h in handles)
        if not cancelled:  # a silent no-op reads as "cancel is broken"
            self._server.notices.always("Stomper: no fix run to cancel.")
        return {"cancelled": cancelled}

    def _handles(self, command: str, uri: str | None) -> list[ProjectHandle]:
        """The folder of `uri` (a folder or any file in it); None: every folder."""
        registry = self._server.registry
        if uri is None:
            return [registry.handle(folder) for folder in registry.folders]
        if uri_to_path(uri) is None:
            raise JsonRpcInvalidParams(f"{command}: {shorten(uri, 200)} is not a file: URI")
        folder = registry.folder_by_uri(uri)
        if folder is None:
            raise JsonRpcInvalidParams(
                f"{command}: {shorten(uri, 200)} is outside every workspace folder"
            )
        return [registry.handle(folder)]
