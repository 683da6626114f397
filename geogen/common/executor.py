"""Run one task per item — in this process, a local process pool, or on a Ray cluster.

The per-identity stages (dataset build, pseudo-GT, benchmark) are embarrassingly parallel and
seeded per identity, so their results do not depend on where or in which order the items run.
:func:`map_tasks` runs ``fn(item)`` for every item and yields ``(item, result)`` as tasks
finish, feeding one progress bar; the caller commits each result (records are written by the
caller, once per finished item, so a retried task can never produce a duplicate).

Executors:

- ``local``: ``workers == 1`` runs in this process; more uses a ``multiprocessing`` pool.
- ``ray``: one Ray task per item, with the resources it needs declared (``cpus``, ``gpus``) and
  ``max_retries`` re-runs when a worker process or node dies (an exception raised by ``fn``
  itself is not retried: it is re-raised here with its own type and message). Without an
  address a local cluster of ``workers`` CPUs is started (and stopped at the end); with one
  (``auto``, ``HOST:PORT``, ``ray://HOST:10001``) the run attaches to an existing cluster,
  whose nodes must see the same file system paths and have this package installed.

Ray is an optional dependency (``pip install -e '.[ray]'``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .errors import UserError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorConfig:
    """Where tasks run; none of this changes their results."""

    kind: str = "local"               # "local" | "ray"
    workers: int = 1                  # local: pool size (1 = this process); ray: CPUs of a cluster it starts
    ray_address: str | None = None    # attach to this Ray cluster (None: start a local one)
    cpus: float = 1.0                 # ray: CPUs each task reserves
    gpus: float = 0.0                 # ray: GPUs each task reserves (1 for a CUDA inversion)
    max_retries: int = 3              # ray: re-runs of a task whose worker died
    progress: bool = True
    desc: str = "tasks"

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise UserError(f"--executor must be one of {', '.join(EXECUTORS)} (got {self.kind!r})")
        if self.workers < 1:
            raise UserError(f"--workers must be >= 1 (got {self.workers})")
        if self.ray_address is not None and self.kind != "ray":
            raise UserError("--ray-address needs --executor ray")
        if self.cpus <= 0 or self.gpus < 0 or self.max_retries < 0:
            raise UserError("task resources must be positive (cpus > 0, gpus >= 0, max_retries >= 0)")


def map_tasks(fn: Callable[[Any], Any], items: Iterable, cfg: ExecutorConfig) -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, fn(item))`` for every item, in completion order.

    ``fn`` must be picklable (a module-level function or a picklable callable object) unless it
    runs in this process. Exceptions raised by ``fn`` propagate with their own type.
    """
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(total=len(items), unit="task", desc=cfg.desc, disable=not cfg.progress or not items,
               dynamic_ncols=True)
    try:
        if not items:
            return
        if cfg.kind == "ray":
            runner = _ray_tasks(fn, items, cfg)
        elif cfg.workers == 1 or len(items) == 1:
            runner = ((item, fn(item)) for item in items)
        else:
            runner = _pool_tasks(fn, items, cfg.workers)
        try:
            for item, result in runner:
                yield item, result
                bar.update(1)
        finally:
            runner.close()  # stopped early (caller's error, Ctrl-C): stop the pool / cancel the Ray tasks now
    finally:
        bar.close()


# ---------------------------------------------------------------------------------------- local
def _worker_init() -> None:
    import signal

    os.environ["OMP_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool, workers stay quiet


def _call(args):
    fn, item = args
    return item, fn(item)


def _ray_call(fn, item):
    return item, fn(item)


def _pool_tasks(fn, items: list, workers: int):
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(min(workers, len(items)), initializer=_worker_init) as pool:
        yield from pool.imap_unordered(_call, [(fn, item) for item in items])


# ------------------------------------------------------------------------------------------ ray
def _import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install -e '.[ray]' (or pip install ray)") from None
    return ray


def ray_session(cfg: ExecutorConfig):
    """``(ray, started)``: connect to ``cfg.ray_address``, reuse a running session, or start a
    local cluster of ``cfg.workers`` CPUs; ``started`` says whether the caller must shut it down."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray, False
    kwargs = dict(include_dashboard=False, log_to_driver=True, configure_logging=False)
    try:
        if cfg.ray_address:
            _check_reachable(cfg.ray_address)
            ray.init(address=cfg.ray_address, **kwargs)
        else:
            # address="local": always a new cluster of our own, never one that a stale
            # /tmp/ray/ray_current_cluster file (left by an earlier 'ray start') points at
            ray.init(address="local", num_cpus=cfg.workers, num_gpus=_visible_gpus() if cfg.gpus else 0, **kwargs)
    except ConnectionError as exc:
        hint = ("" if os.environ.get("RAY_AUTH_MODE") else "; a cluster started by 'ray start' (Ray >= 2.59) "
                "wants token authentication: export RAY_AUTH_MODE=token (token in ~/.ray/auth_token or RAY_AUTH_TOKEN)")
        raise UserError(f"cannot connect to the Ray cluster at {cfg.ray_address!r} ({exc}){hint}; or drop "
                        "--ray-address to start a local one") from None
    return ray, True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast with one line when HOST:PORT (or ray://HOST[:PORT]) does not answer: ray.init
    itself keeps retrying an unreachable address for minutes. ``auto`` is left to Ray."""
    import socket

    text = address[len("ray://"):] if address.startswith("ray://") else address
    if text == "auto":
        return
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "10001")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise UserError(f"no Ray cluster answers at {address!r} ({exc}); start one with 'ray start --head' "
                        "or drop --ray-address to start a local one") from None


@contextmanager
def executor_session(cfg: ExecutorConfig):
    """Keep one Ray session open across several :func:`map_tasks` calls (e.g. a build and its
    pseudo-GT step): they then share one cluster start-up. No-op for the local executor."""
    if cfg.kind != "ray":
        yield
        return
    ray, started = ray_session(cfg)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _visible_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


def _ray_tasks(fn, items: list, cfg: ExecutorConfig):
    ray, started = ray_session(cfg)
    try:
        need = {"CPU": cfg.cpus, "GPU": cfg.gpus}
        have = ray.cluster_resources()
        short = [f"{k} {v:g} per task, cluster has {have.get(k, 0):g}" for k, v in need.items()
                 if v > 0 and have.get(k, 0) < v]
        if short:
            raise UserError(f"the Ray cluster cannot run these tasks ({'; '.join(short)}); add nodes with "
                            "those resources or use another --device/--executor")
        remote = ray.remote(num_cpus=cfg.cpus, num_gpus=cfg.gpus, max_retries=cfg.max_retries,
                            retry_exceptions=False)(_ray_call)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, item): item for item in items}  # refs as top-level args resolve
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # fn raised: re-raise its own exception
                        cause = getattr(exc, "cause", None)
                        raise (cause if isinstance(cause, BaseException) else exc) from None
                    except ray.exceptions.RayError as exc:  # worker/node lost beyond the retries, OOM kill, ...
                        reason = " ".join(str(exc).split())[:300]
                        raise UserError(f"a Ray task failed after {cfg.max_retries} retries ({type(exc).__name__}: "
                                        f"{reason}); committed items are kept, re-run to resume") from None
        finally:
            for ref in pending:  # stopped early (error, Ctrl-C): do not leave work running
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()
