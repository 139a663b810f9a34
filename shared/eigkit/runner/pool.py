"""Where runs execute: a pool of long-lived local processes, or a Dask distributed cluster.

Both take batches ("waves") of :class:`~eigkit.runner.worker.RunTask` and yield one outcome dict per task
as runs finish. Local workers import papermill once and run many notebooks, each in its own fresh kernel;
they ignore Ctrl-C (the driving process decides) and stop their current kernel when sent SIGTERM, which
they also receive when the driving process dies, however it dies (:mod:`eigkit.runner.lifeline`).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

import eigkit.runner.lean_imports  # noqa: F401  (first: a spawned worker imports this module before papermill)
from eigkit.runner import fastkernel, ipc
from eigkit.runner.lifeline import die_with
from eigkit.runner.worker import RunTask, execute_task, execute_task_on_cluster, warm_kernels

STOP_GRACE = 20.0  # seconds a worker gets to stop its kernel and report, once interrupted
CONNECT_TIMEOUT = "30s"  # how long to wait for a Dask scheduler to answer
PRELOAD = ["eigkit.runner.lean_imports", "eigkit.runner.worker", "papermill"]  # once, in the fork server


def _raise_interrupt(signum: int, frame: Any) -> None:
    """Interrupt the worker once; later signals are ignored so that stopping the kernel is not cut short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _worker_main(tasks: Any, results: Any, environment: dict[str, str], driver: int) -> None:
    """Body of a local worker process: run tasks until told to stop (``None``) or interrupted.

    ``environment`` is the caller's ``os.environ`` when the pool was made: workers fork from
    multiprocessing's fork server, which keeps the environment of the moment it started (the first pool of
    the process), so without it a variable set since then would never reach the notebooks. ``driver`` is
    the pid of the process that made the pool: the worker stops (SIGTERM) when it is gone.
    """
    os.environ.clear()
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the driver decides
    signal.signal(signal.SIGTERM, _raise_interrupt)
    die_with(driver, signal.SIGTERM)
    try:
        with warm_kernels():
            while (task := tasks.get()) is not None:
                results.put(("started", task.index, os.getpid()))
                try:
                    outcome = execute_task(task)
                except Exception as error:  # a bug or an unwritable run folder: that run fails, not the pool
                    outcome = _lost(task, str(error), ename=type(error).__name__)
                results.put(("done", outcome, os.getpid()))
                if outcome["status"] == "interrupted":
                    break
    except KeyboardInterrupt:
        pass


def _lost(task: RunTask, reason: str, status: str = "failed", ename: str = "WorkerLost") -> dict[str, Any]:
    """The outcome of a task whose worker vanished, that never started, or that the worker could not run."""
    error = {"cell_index": None, "ename": ename, "evalue": reason} if status == "failed" else None
    return {
        "index": task.index,
        "name": task.name,
        "status": status,
        "error": error,
        "data": [],
        "report": None,
    }


class LocalPool:
    """``workers`` long-lived processes: on Linux forked from multiprocessing's fork server (papermill
    preloaded once), elsewhere spawned (fork after numpy/matplotlib imports is unsafe on macOS, absent on
    Windows). Spawned on Linux too when the temporary folder's path is too long for the fork server's socket
    (``OSError: AF_UNIX path too long`` before Python 3.14)."""

    def __init__(self, workers: int) -> None:
        forkserver_fits = ipc.fits_socket_paths(tempfile.gettempdir())
        self.start_method = "forkserver" if fastkernel.fork_supported() and forkserver_fits else "spawn"
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            context.set_forkserver_preload(PRELOAD)
        self._tasks = context.Queue()
        self._results = context.Queue()
        self._processes = [
            context.Process(
                target=_worker_main,
                args=(self._tasks, self._results, dict(os.environ), os.getpid()),
                daemon=True,
            )
            for _ in range(max(1, workers))
        ]
        for process in self._processes:
            process.start()
        self._running: dict[int, int] = {}  # worker pid -> task index

    def run_wave(self, tasks: Sequence[RunTask]) -> Iterator[dict[str, Any]]:
        """Run ``tasks`` on the pool; yield each outcome as it arrives."""
        by_index = {task.index: task for task in tasks}
        for task in tasks:
            self._tasks.put(task)
        waiting = set(by_index)
        while waiting:
            try:
                message = self._results.get(timeout=1.0)
            except queue.Empty:
                yield from (self._lost_outcome(by_index, waiting, pid) for pid in self._dead_workers())
                if not any(process.is_alive() for process in self._processes):
                    for index in sorted(waiting):
                        yield _lost(by_index[index], "every worker process has exited")
                    return
                continue
            if message[0] == "started":
                self._running[message[2]] = message[1]
                continue
            outcome = message[1]
            self._running.pop(message[2], None)
            waiting.discard(outcome["index"])
            yield outcome

    def _dead_workers(self) -> list[int]:
        return [
            pid
            for pid in list(self._running)
            if not any(p.pid == pid and p.is_alive() for p in self._processes)
        ]

    def _lost_outcome(self, by_index: dict[int, RunTask], waiting: set[int], pid: int) -> dict[str, Any]:
        index = self._running.pop(pid)
        waiting.discard(index)
        return _lost(by_index[index], f"worker process {pid} died while running the notebook")

    def interrupt(self) -> list[dict[str, Any]]:
        """Stop every worker (each stops its kernel first); return the outcomes they reported meanwhile."""
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        outcomes = []
        deadline = time.monotonic() + STOP_GRACE
        while self._running and time.monotonic() < deadline:
            try:
                message = self._results.get(timeout=0.2)
            except queue.Empty:
                for pid in self._dead_workers():
                    self._running.pop(pid, None)
                continue
            if message[0] == "done":
                self._running.pop(message[2], None)
                outcomes.append(message[1])
        self.close(timeout=max(0.0, deadline - time.monotonic()))
        return outcomes

    def close(self, timeout: float = 10.0) -> None:
        """Tell idle workers to stop, wait for them, and kill any that do not."""
        for process in self._processes:
            if process.is_alive():
                self._tasks.put(None)
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
        self._tasks.cancel_join_thread()
        self._tasks.close()
        self._results.close()


class DaskPool:
    """Runs sent to a Dask distributed scheduler (``tcp://HOST:PORT``).

    Workers must see the workspace at the same path (shared filesystem) and have eig-kit installed. A worker
    runs as many notebooks at once as it has threads (each kernel gets its run's environment from its kernel
    manager, not from the worker's ``os.environ``). On Linux, a worker forks its kernels from warm servers it
    keeps as long as it lives (:func:`~eigkit.runner.fastkernel.keep_warm_for_life`).
    """

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as error:
            raise RuntimeError("--cluster needs Dask distributed: pip install 'eig-kit[dask]'.") from error
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except OSError as error:
            raise RuntimeError(f"cannot reach the Dask scheduler at {address} ({error}).") from error
        self._futures: list[Any] = []

    def run_wave(self, tasks: Sequence[RunTask]) -> Iterator[dict[str, Any]]:
        """Submit ``tasks`` to the cluster; yield each outcome as it completes."""
        from distributed import as_completed

        futures = {}
        for task in tasks:
            key = f"eig-run-{task.name}-{os.urandom(4).hex()}"
            futures[self._client.submit(execute_task_on_cluster, task, pure=False, key=key)] = task
        self._futures.extend(futures)
        for future in as_completed(list(futures), loop=self._client.loop):
            try:
                yield future.result()
            except Exception as error:  # the task raised on the worker, or the worker died
                yield _lost(futures[future], f"{type(error).__name__}: {error}")

    def interrupt(self) -> list[dict[str, Any]]:
        """Cancel the runs not finished yet (a notebook already running on a worker runs to its end)."""
        self._client.cancel(self._futures, force=True)
        self.close()
        return []

    def close(self, timeout: float = 10.0) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self._client.close(timeout=timeout)


def make_pool(workers: int, cluster: str | None) -> LocalPool | DaskPool:
    """A Dask pool when ``cluster`` names a scheduler, else a local pool of ``workers`` processes."""
    return DaskPool(cluster) if cluster else LocalPool(workers)
