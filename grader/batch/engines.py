"""Where a batch's gradings run: worker processes on this machine, or Ray tasks on a cluster.

Both engines take the planned jobs and yield an Outcome for each as it finishes, in any order.
Neither writes anything of the batch's own: the driver records what they yield.

    LocalEngine(jobs=N)   N gradings at once, each pinned to its own share of the cores, each
                          share served by a warm worker (grader/batch/warm.py; warm=False: a
                          fresh worker process per grading, as before)
    RayEngine(address)    one Ray task per grading, with the resources its profile asks for;
                          a local cluster by default, or an existing one at `address`

An infrastructure fault (the grading's process or its Ray worker dies) runs that grading once
more; a second fault gives an outcome without a result, graded again by the next run of the
batch. A submission's own failures come back as graded results and are never retried.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from grader import config
from grader.batch.jobs import InfrastructureFault, Job, Outcome, allow_new_work, run_job, run_job_in_process, stop_all
from grader.batch.warm import Slot, WarmWorker
from grader.core import launch

ENGINES = ("local", "ray")
GPU_MEMORY_USED = 0.9  # of one GPU, shared by the gradings side by side (the rest: the runtimes' own)


def available_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def core_slots(jobs: int, cores: list[int]) -> list[tuple[int, ...]]:
    """The cores of each of `jobs` slots: disjoint shares while there are enough cores, else shared."""
    if jobs <= len(cores):
        share = len(cores) // jobs
        return [tuple(cores[i * share : (i + 1) * share]) for i in range(jobs)]
    return [(cores[i % len(cores)],) for i in range(jobs)]


def placed(job: Job, cores: tuple[int, ...], shares: int = 1) -> Job:
    """The job pinned to `cores`, its threads bounded to match, so that gradings side by side do
    not oversubscribe the machine; and, of `shares` gradings side by side on a GPU, each bounded
    to its share of the GPU's memory (JAX would otherwise take 75% of it at its first step)."""
    gpu_share = None if job.device == "cpu" or shares < 2 else round(GPU_MEMORY_USED / shares, 3)
    return replace(job, cores=cores, cpu_threads=len(cores), gpu_memory_fraction=gpu_share)


class LocalEngine:
    """`--jobs N` gradings at once on this machine, each in its own share of the cores.

    Warm (the default, config.BATCH_WARM): each share has a warm worker that grades its jobs one
    after another, with the next grading's processes started ahead. Cold: a fresh worker process
    per grading."""

    name = "local"

    def __init__(self, jobs: int = 1, *, warm: bool = config.BATCH_WARM):
        if jobs < 1:
            raise ValueError("--jobs must be at least 1")
        self.jobs, self.warm = jobs, warm

    def run(self, jobs: list[Job]) -> Generator[Outcome, None, None]:
        allow_new_work()
        if not jobs:
            return
        shares = core_slots(self.jobs, available_cores())[: len(jobs)]
        waiting: queue.SimpleQueue[Job] = queue.SimpleQueue()
        for job in jobs:
            waiting.put(job)
        finished: queue.SimpleQueue[Outcome | None] = queue.SimpleQueue()  # None: a share is done

        def serve_a_share(cores: tuple[int, ...]) -> None:
            """One thread per share of the cores: jobs one after another, in the share's own warm
            worker (or a cold worker each), until none is left."""
            worker: WarmWorker | None = None
            try:
                while True:
                    try:
                        job = placed(waiting.get_nowait(), cores, len(shares))
                    except queue.Empty:
                        return
                    if not self.warm:
                        finished.put(run_job(job))
                        continue
                    if worker is None or not worker.slot.fits(job):  # another device: a worker of its own
                        if worker is not None:
                            worker.close()
                        worker = WarmWorker(Slot.of(job))
                    more = not waiting.empty()  # else nothing is started ahead for a job that never comes
                    finished.put(run_job(job, partial(worker.run, more=more)))
            finally:
                if worker is not None:
                    worker.close()
                finished.put(None)

        pool = ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="grade-batch")
        threads = [pool.submit(serve_a_share, cores) for cores in shares]
        running = len(threads)
        try:
            while running:
                outcome = finished.get()
                if outcome is None:
                    running -= 1
                else:
                    yield outcome
            for thread in threads:
                thread.result()  # a bug of ours in a share's thread: raised here, not lost
        finally:
            if running:  # interrupted (Ctrl-C, or the caller stopped reading): stop the gradings in flight
                stop_all()
            pool.shutdown(wait=True)


# --------------------------------------------------------------------------- Ray


def grade_on_ray_worker(job: Job) -> Outcome:
    """The Ray task: the same worker process as on one machine. A fault raises, so Ray retries it."""
    return run_job_in_process(job)


class RayEngine:
    """One Ray task per grading. `address` None starts a local cluster (in-process, `num_cpus` cores)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self.address, self.num_cpus = address, num_cpus
        self.folder: Path | None = None  # the local cluster's working folder

    def start(self) -> Any:
        try:
            import ray
        except ImportError:
            raise RuntimeError('--engine ray needs Ray: pip install "cnn-grader[ray]"') from None
        import logging

        if not ray.is_initialized():
            options: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.WARNING, configure_logging=True)
            if self.address:
                ray.init(address=self.address, **options)
            else:
                # The local cluster's processes inherit this process's folder (Ray puts it on the
                # workers' sys.path) and environment: start them from a private folder, without
                # the signing key, which only the driver needs (grader/core/launch.py).
                self.folder = launch.private_folder("grader-ray-")
                secrets = {name: os.environ.pop(name) for name in list(os.environ) if launch.is_secret_name(name)}
                here = os.getcwd()
                os.chdir(self.folder)
                try:
                    ray.init(
                        num_cpus=self.num_cpus,
                        include_dashboard=False,
                        object_store_memory=100 * 1024 * 1024,
                        **options,
                    )
                finally:
                    os.chdir(here)
                    os.environ.update(secrets)
        return ray

    def run(self, jobs: list[Job]) -> Generator[Outcome, None, None]:
        if not jobs:
            return
        ray = self.start()
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(grade_on_ray_worker)
        refs = {}
        for job in jobs:
            gpus = job.gpus if (has_gpus and job.device != "cpu") else 0
            placed = replace(
                job,
                cpu_threads=job.cpus,
                gpu_memory_fraction=gpus or None,
                device="cpu" if job.device == "auto" and not gpus else job.device,
            )
            ref = task.options(
                num_cpus=job.cpus,
                num_gpus=gpus,
                memory=job.memory_mb * 1024 * 1024,
                max_retries=1,
                retry_exceptions=[InfrastructureFault],
                name=f"grade {job.learner} {job.challenge or ''}".strip(),
            ).remote(placed)
            refs[ref] = job
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    job = refs.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as err:  # died twice: the worker, its node, or our process
                        cause = getattr(err, "cause", None) or err
                        yield Outcome(
                            job, problem=f"the grading failed twice on the cluster: {_first_line(cause)}", attempts=2
                        )
        finally:
            for ref in refs:  # interrupted: cancel what is still queued or running
                ray.cancel(ref, force=True)

    def stop(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        launch.remove_private_folder(self.folder)
        self.folder = None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:500]


def make_engine(
    name: str, *, jobs: int, address: str | None, warm: bool = config.BATCH_WARM
) -> LocalEngine | RayEngine:
    """`warm` is the local engine's (Ray's tasks each start a fresh worker process)."""
    if name == "local":
        if address:
            raise ValueError("--address is for --engine ray")
        return LocalEngine(jobs, warm=warm)
    if name == "ray":
        return RayEngine(address, num_cpus=None if address else (jobs if jobs > 1 else None))
    raise ValueError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
