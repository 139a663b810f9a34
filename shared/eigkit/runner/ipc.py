"""Where kernels' unix socket files and connection files live: short private folders, swept when stale.

Unix socket paths hold about 100 bytes, so the folders are made in the temporary folder, or in ``/tmp`` when
``TMPDIR`` is too long. Each folder is named after the process that made it (``eig-ipc-<pid>-XXXXXXXX``);
that process removes it, but a process killed with SIGKILL (the OOM killer, a Dask nanny) cannot. The next
folder made on the machine sweeps such leftovers: folders of this user whose process is gone and whose
sockets no longer answer, with the connection files (kernel keys) inside them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import tempfile
import threading

SOCKET_PATH_MAX = 100  # bytes of a unix socket path, with a margin: Linux allows 107, macOS 103
SOCKET_NAME_ROOM = 33  # what is added under the base folder: "/pymp-XXXXXXXX/listener-XXXXXXXX"
PREFIX = "eig-ipc-"
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")
_swept: set[str] = set()  # base folders this process already swept
_sweeping = threading.Lock()


def fits_socket_paths(folder: str) -> bool:
    """True when the socket files made under ``folder`` (the kit's ``eig-ipc-*/<id>-<n>``, multiprocessing's
    ``pymp-*/listener-*``) stay within the length a unix socket path may have."""
    return len(os.path.abspath(folder)) + SOCKET_NAME_ROOM <= SOCKET_PATH_MAX


def socket_base() -> str | None:
    """Where the kit puts unix socket files: the temporary folder, or ``/tmp`` when the temporary folder's
    path is too long for them (a long ``TMPDIR``, as Python 3.14's multiprocessing does); None if neither
    fits (kernels then talk over TCP)."""
    for folder in (tempfile.gettempdir(), "/tmp"):
        if fits_socket_paths(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return None


def new_ipc_folder() -> str:
    """A new private folder for ipc socket and connection files, in :func:`socket_base` (the caller removes
    it); the first call of a process per base folder first removes the stale ones (:func:`sweep_stale`)."""
    base = socket_base()
    folder = base or tempfile.gettempdir()
    with _sweeping:
        if folder not in _swept:
            _swept.add(folder)
            sweep_stale(folder)
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)


def sweep_stale(base: str) -> list[str]:
    """Remove the ``eig-ipc-<pid>-*`` folders of ``base`` left by dead processes of this user; return them.

    A folder stays when its process is alive, when it belongs to another user, or when one of its sockets
    still accepts a connection (a process of another PID namespace sharing ``/tmp`` may be using it).
    """
    removed: list[str] = []
    candidates: list[os.DirEntry[str]] = []
    if not hasattr(os, "getuid"):  # no unix sockets, no ipc folders to sweep
        return removed
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        candidates = [entry for entry in entries if _OWNED.match(entry.name)]
    for entry in candidates:
        owner = int(_OWNED.match(entry.name).group(1))  # type: ignore[union-attr]
        try:
            mine = entry.stat(follow_symlinks=False).st_uid == os.getuid()
            if not mine or not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        if _alive(owner) or _answering(entry.path):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answering(folder: str) -> bool:
    """True when a unix socket in ``folder`` accepts a connection (someone still listens on it)."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        sockets = [item.path for item in entries if stat.S_ISSOCK(item.stat(follow_symlinks=False).st_mode)]
        for path in sockets:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.settimeout(0.5)
                probe.connect(path)
                return True
            except OSError:
                continue
            finally:
                probe.close()
    return False
