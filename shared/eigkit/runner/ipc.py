"""Where kernels' unix socket files and connection files live: short private folders, swept when stale.

Unix socket paths hold about 100 bytes, so the folders are made in the temporary folder, or in ``/tmp`` when
``TMPDIR`` is too long. Each folder is named after the process that made it (``eig-ipc-<pid>-XXXXXXXX``);
that process removes it, but a process killed with SIGKILL (the OOM killer, a Dask nanny) cannot. The next
folder made on the machine sweeps such leftovers, with the connection files (kernel keys) inside them.

Whether a folder's owner still lives is told by a lock, not by its pid: the owner holds an exclusive
``flock`` on the folder's ``.owner`` file for the folder's whole life, and the kernel releases it when the
owner dies, however it dies. A pid cannot tell: a process of another PID namespace sharing ``/tmp`` (a
container) has a pid that means nothing here, and a pid may be reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator

SOCKET_PATH_MAX = 100  # bytes of a unix socket path, with a margin: Linux allows 107, macOS 103
SOCKET_NAME_ROOM = 33  # what is added under the base folder: "/pymp-XXXXXXXX/listener-XXXXXXXX"
PREFIX = "eig-ipc-"
OWNER_FILE = ".owner"  # locked by the folder's owner for the folder's life
UNLOCKED_GRACE_SECONDS = 60.0  # a folder without its lock file is left alone this long (being made)
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")
_locks: dict[str, int] = {}  # folder made by this process -> the descriptor holding its owner lock
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
    """A new private folder for ipc socket and connection files, in :func:`socket_base`, locked as this
    process's until :func:`remove_ipc_folder`; the first call of a process per base folder first removes the
    stale ones (:func:`sweep_stale`)."""
    base = socket_base()
    folder = base or tempfile.gettempdir()
    with _sweeping:
        if folder not in _swept:
            _swept.add(folder)
            sweep_stale(folder)
    made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
    # Locked under another name, then renamed: a sweep never meets an unlocked .owner of a live folder (it
    # leaves a folder without one alone while it is young).
    making = os.path.join(made, f"{OWNER_FILE}-making")
    descriptor = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.rename(making, os.path.join(made, OWNER_FILE))
    _locks[made] = descriptor
    return made


def remove_ipc_folder(folder: str) -> None:
    """Remove a folder made by :func:`new_ipc_folder` in this process with everything in it, then release its
    lock; nothing for a folder this process did not make (a forked child's inherited exit handlers)."""
    descriptor = _locks.pop(folder, None)
    if descriptor is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.close(descriptor)


def _forget_parent_folders() -> None:
    """In a forked child: the parent's folders are not the child's to remove, nor to keep alive (the lock
    stays with the parent's own descriptor)."""
    for descriptor in _locks.values():
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _locks.clear()


os.register_at_fork(after_in_child=_forget_parent_folders)


def sweep_stale(base: str) -> list[str]:
    """Remove the ``eig-ipc-<pid>-*`` folders of ``base`` whose owner is gone; return them.

    The owner is gone when its ``.owner`` lock can be taken. A folder without one (made by a kit before the
    lock, or being made right now) goes only when it is older than a minute, its process is not alive here
    and none of its sockets accepts a connection. Another user's folders are never touched.
    """
    removed: list[str] = []
    candidates: list[os.DirEntry[str]] = []
    if not hasattr(os, "getuid"):  # no unix sockets, no ipc folders to sweep
        return removed
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        candidates = [entry for entry in entries if _OWNED.match(entry.name)]
    for entry in candidates:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode) or entry.path in _locks:
            continue
        with _owner_lock(entry.path) as owner_gone:  # held while the folder is removed
            if owner_gone is None:  # no lock file
                owner = int(_OWNED.match(entry.name).group(1))  # type: ignore[union-attr]
                young = time.time() - info.st_mtime < UNLOCKED_GRACE_SECONDS
                owner_gone = not (young or _alive(owner) or _answering(entry.path))
            if owner_gone:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed


@contextlib.contextmanager
def _owner_lock(folder: str) -> Iterator[bool | None]:
    """Within it: True while this process holds ``folder``'s owner lock, found free and still the folder's
    (its owner is gone); False when someone holds it or it is not a lock file; None without a lock file."""
    path = os.path.join(folder, OWNER_FILE)
    try:  # never blocks: not on a FIFO's open, not through a symbolic link
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        yield None
        return
    except OSError:  # a symbolic link or something unreadable where the lock file should be: leave it
        yield False
        return
    try:
        yield _lock_free_and_current(descriptor, path)
    finally:
        os.close(descriptor)  # releases the lock, if it was taken


def _lock_free_and_current(descriptor: int, path: str) -> bool:
    """Take the lock of ``descriptor`` if free; True when taken and ``path`` is still that file (its owner
    may have removed the folder, and released the lock, since it was opened)."""
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode):  # a FIFO, a device: not a kit lock file
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        current = os.lstat(path)
    except OSError:
        return False
    return (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino)


def _alive(pid: int) -> bool:
    if pid <= 0:  # not a process of its own (0 signals this process group)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):  # a number no process can have
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
            except BlockingIOError:  # its backlog is full: someone listens
                return True
            except OSError:
                continue
            finally:
                probe.close()
    return False
