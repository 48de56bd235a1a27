"""How a process that runs learner code is isolated from the host, in one place.

Three levels, best first (docs/security.md has what each one stops):

- "namespaces": bubblewrap. New user, PID, network, IPC, UTS and mount namespaces, no
  capabilities, uid 65534 inside, an empty root with only the Python runtime, its
  site-packages and the grader package mounted read-only, a private /tmp and HOME in memory,
  its own work folder (the only writable place) and its inputs (read-only), a fresh /proc
  that shows only the sandbox, no network but its own loopback, --die-with-parent and a new
  session. When its first process ends the kernel kills every other one in the PID namespace.
- "uid": for hosts where user namespaces are blocked (Docker's default seccomp profile, so
  Gradescope): as root, the child runs as a dedicated unprivileged uid that owns only its
  work folder; file permissions hide the rest. Lost: the network, /proc of the host, and
  whatever files the host left readable by everyone (the check below refuses data folders
  that others can read).
- "none": no isolation. Allowed for a learner's own feedback run only; leaderboard, --sign
  and Gradescope modes refuse it.

Every level gets the same rlimits (grader/describe/sandbox/limits.py), an environment built from an
allow-list (never the grader's secrets or data locations), and a new session.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.describe.sandbox import mounts, syscalls
from grader.describe.sandbox.box import passable_by_others
from grader.describe.sandbox.limits import MB, Limits, die_with_parent

LEVELS = ("namespaces", "uid", "none")
ISOLATION_ENV = "GRADER_ISOLATION"  # auto (default), namespaces, uid or none

# Paths inside the sandbox.
BOX_WORK = "/sandbox/work"  # the child's work folder: the only writable place
BOX_INPUTS = "/sandbox/inputs"  # what the parent gives it: job, submission, images
BOX_HOME = "/home/learner"
SANDBOX_UID = 65534  # "nobody", inside the user namespace

# The uid fallback: unprivileged uids for children, one per concurrent run (held by a lock file).
FALLBACK_UID_BASE = 64000
FALLBACK_UID_COUNT = 512
PROBE_UID = FALLBACK_UID_BASE - 1  # runs only `true`, to see whether bubblewrap works for such a user
FALLBACK_LOCK_DIR = Path("/run/grader-uids") if os.path.isdir("/run") else Path("/tmp/grader-uids")

# The environment a child gets: these names pass through from the parent where set...
PASS_THROUGH_ENV = (
    "KERAS_BACKEND",
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "LANG",
    "LC_ALL",
    "TZ",
)
# ...and nothing else of it: no GRADER_* variable (secrets, data, database), no HOME, no PATH of the host.

# /etc files a Python runtime needs (dynamic linker, time zone, users); nothing else of /etc.
_ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "passwd",
    "group",
    "hosts",
    "alternatives",
    "ssl/certs",
    "mime.types",
)
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")


class IsolationError(Exception):
    """The isolation asked for is not available here (with what to do instead)."""


@dataclass(frozen=True)
class Isolation:
    level: str  # one of LEVELS
    reason: str = ""  # why this level (and not a better one)

    @property
    def isolated(self) -> bool:
        return self.level != "none"

    def notice(self) -> str:
        """A one-line notice for output when the level is below 'namespaces'."""
        if self.level == "namespaces":
            return ""
        if self.level == "uid":
            return (
                "isolation: uid fallback (no user namespaces here): the submission ran as an unprivileged "
                "user, but with the host's network and process list visible"
            )
        return (
            "isolation: none (" + (self.reason or "bubblewrap unavailable") + "): this result is for "
            "feedback only and cannot be recorded, signed or uploaded"
        )


# --------------------------------------------------------------------------- choosing a level


def runtime_paths() -> list[Path]:
    """Folders the child needs read-only: the Python runtime, the environment, the grader package,
    the challenge specs."""
    import grader
    from grader import config

    # The challenge specs and skeletons are a learner's own material (a notebook's test cells read
    # them); the reference solutions, the data and everything else of the repository stay out.
    paths = {
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(sys.exec_prefix),
        Path(grader.__file__).resolve().parent,
        config.CHALLENGES_DIR.resolve(),
    }
    # A venv's python is a link into the base runtime: mount the real files, wherever they are.
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # Libraries found through a .pth file or PYTHONPATH outside the environment: only folders of
    # installed packages, never a checkout or the current folder.
    paths.update(Path(entry) for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages"))
    return sorted(p.resolve() for p in paths if p.exists())


def hidden_paths() -> list[Path]:
    """Folders inside the mounted runtime that the child must not see: the reference solutions,
    where a host keeps them there ($GRADER_SOLUTIONS_DIR; the wheel itself ships none)."""
    from grader import config

    solutions = config.SOLUTIONS_DIR.resolve()
    inside = any(solutions == p or p in solutions.parents for p in runtime_paths())
    return [solutions] if inside and solutions.is_dir() else []


def _bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def _bwrap_works() -> tuple[bool, str]:
    path = _bwrap()
    if path is None:
        return False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"

    def as_sandbox_user() -> None:  # as root, bubblewrap runs as an unprivileged uid (see start())
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(PROBE_UID)
            os.setuid(PROBE_UID)

    try:
        probe = subprocess.run(
            [
                path,
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--uid",
                str(SANDBOX_UID),
                "--cap-drop",
                "ALL",
                *_system_mounts(),
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "true",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            preexec_fn=as_sandbox_user,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap could not start: {err}"
    if probe.returncode != 0:
        why = probe.stderr.decode(errors="replace").strip().splitlines()
        return (
            False,
            f"bwrap cannot create namespaces here ({why[-1] if why else probe.returncode}): "
            f"user namespaces are blocked, as under Docker's default seccomp profile",
        )
    return True, ""


def choose(requested: str | None = None) -> Isolation:
    """The isolation level: the one requested (or $GRADER_ISOLATION), else the best available."""
    requested = (requested or os.environ.get(ISOLATION_ENV) or "auto").strip().lower()
    if requested not in (*LEVELS, "auto"):
        raise IsolationError(f"unknown isolation {requested!r}: use auto, {', '.join(LEVELS)}")
    if requested == "none":
        return Isolation("none", "asked for")
    works, why = _bwrap_works()
    if requested == "namespaces":
        if not works:
            raise IsolationError(f"--isolation namespaces: {why}")
        return Isolation("namespaces")
    if requested == "auto" and works:
        return Isolation("namespaces")
    if os.geteuid() == 0:
        unreadable = [p for p in runtime_paths() if world_readable_ancestor(p) is None]
        exposed = [p for p in hidden_paths() if world_readable_ancestor(p) is not None]
        if not unreadable and not exposed:
            return Isolation("uid", why)
        problem = (
            f"the uid fallback cannot run Python from {unreadable[0]}, which an unprivileged user cannot read"
            if unreadable
            else f"the uid fallback would let submissions read the reference solutions in {exposed[0]}: "
            f"chmod -R go-rwx {exposed[0]}"
        )
        why = "; ".join(filter(None, [why, problem]))
        if requested == "uid":
            raise IsolationError(f"--isolation uid: {why}")
        return Isolation("none", why)
    if requested == "uid":
        raise IsolationError(
            "--isolation uid needs the grader to run as root (it switches the child to an unprivileged user)"
        )
    return Isolation("none", why or "not root, no bubblewrap")


def require_isolated(isolation: Isolation, what: str) -> None:
    """Leaderboard, signing and Gradescope modes never run a submission unisolated."""
    if not isolation.isolated:
        # Root already had the uid fallback offered: its reason says why that cannot run.
        advice = "install bubblewrap" + ("" if os.geteuid() == 0 else ", or run as root for the uid fallback")
        raise IsolationError(
            f"{what} needs an isolated sandbox, and none is available here ({isolation.reason}); {advice}"
        )


# --------------------------------------------------------------------------- the environment


def child_environment(extra: dict[str, str], isolation: Isolation, home: str) -> dict[str, str]:
    """The child's whole environment, from an allow-list: nothing of the parent's secrets or paths."""
    env = {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}
    env.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": "/tmp" if isolation.level == "namespaces" else home,
            "KERAS_HOME": f"{home}/.keras",
            "MPLCONFIGDIR": f"{home}/.matplotlib",
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "LANG": env.get("LANG", "C.UTF-8"),
        }
    )
    env.update(extra)
    # The child imports the grader from the folder that holds it (mounted read-only in the sandbox).
    import grader

    env["PYTHONPATH"] = str(Path(grader.__file__).resolve().parent.parent)
    return {k: v for k, v in env.items() if not k.startswith("GRADER_")}


# --------------------------------------------------------------------------- bubblewrap


def _system_mounts() -> list[str]:
    args: list[str] = []
    for folder in _SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for name in _ETC_FILES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(
    command: list[str],
    *,
    work: Path,
    inputs: Path,
    env: dict[str, str],
    limits: Limits,
    staged: dict[str, str] | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bubblewrap command line. `staged` maps a runtime folder to where the parent has bound
    it for an unprivileged bubblewrap to reach (see `stage_runtime`); `seccomp_fd` holds the
    compiled filter (grader/describe/sandbox/syscalls.py)."""
    staged = staged or {}
    args = [
        _bwrap() or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--hostname",
        "sandbox",
    ]
    # The private tmpfs mounts first: bubblewrap mounts in order, so a runtime that lives under
    # /tmp or /home on the host (a checkout there, its venv) is bound on top of them, not hidden.
    # /dev/shm is a tmpfs of the same bounded size: bubblewrap's own would be unbounded.
    # /proc/sys read-only as a whole: the settings of the sandbox's own namespaces would be
    # writable otherwise, and nothing there is a grading's to change.
    args += [
        "--proc",
        "/proc",
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--dev",
        "/dev",
        "--size",
        str(limits.tmp_mb * MB),
        "--tmpfs",
        "/dev/shm",
        "--size",
        str(limits.tmp_mb * MB),
        "--tmpfs",
        "/tmp",
        "--size",
        str(limits.tmp_mb * MB),
        "--tmpfs",
        BOX_HOME,
    ]
    args += _system_mounts()
    for path in runtime_paths():
        args += ["--ro-bind", staged.get(str(path), str(path)), str(path)]
    for path in hidden_paths():  # an empty, read-only folder in its place
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", str(path), "--remount-ro", str(path)]
    args += ["--bind", str(work), BOX_WORK, "--ro-bind", str(inputs), BOX_INPUTS, "--chdir", BOX_WORK]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--", *command]


# --------------------------------------------------------------------------- a root host

# A grading as root must not hand its uid to the sandbox: bubblewrap maps the sandbox's user to
# the uid that starts it, so as root every file the child touches would be touched as host root
# (the host's /proc/sys settings among them). So as root, bubblewrap itself is started as a
# leased unprivileged uid. Such a user cannot reach a Python runtime that lives under a folder
# closed to others (pyenv's under /root), so the parent first binds each runtime folder, in a
# mount namespace of the starting process's own that the host never sees, onto a folder inside
# the run's box that every user may pass through; bubblewrap binds it from there.


def stage_runtime(box_root: Path) -> dict[str, str]:
    """Where each runtime folder will be bound for an unprivileged bubblewrap: empty folders in the
    box, 0755 on a 0711 path, which `bind_staged` fills in the starting process only."""
    stage = box_root / "runtime"
    stage.mkdir(mode=0o711, exist_ok=True)
    os.chmod(stage, 0o711)
    staged = {}
    for index, path in enumerate(runtime_paths()):
        target = stage / str(index)
        target.mkdir(mode=0o755, exist_ok=True)
        os.chmod(target, 0o755)
        staged[str(path)] = str(target)
    return staged


# --------------------------------------------------------------------------- the uid fallback


class UidLease:
    """One unprivileged uid for one run, held with a lock file so concurrent runs never share one."""

    def __init__(self) -> None:
        FALLBACK_LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A uid whose last run's processes are still zombies (killed, not yet reaped by init)
        # comes last: they count against the new run's process limit until they are reaped.
        busy = uids_with_processes()
        offsets = sorted(range(FALLBACK_UID_COUNT), key=lambda offset: FALLBACK_UID_BASE + offset in busy)
        for offset in offsets:
            uid = FALLBACK_UID_BASE + offset
            handle = open(FALLBACK_LOCK_DIR / f"{uid}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.uid, self._handle = uid, handle
            return
        raise IsolationError(f"all {FALLBACK_UID_COUNT} sandbox uids are in use")

    def release(self) -> None:
        kill_uid(self.uid)
        self._handle.close()


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` until none is left running (a fork loop cannot outrun it for long).

    Zombies do not count: they run nothing and hold nothing but their entry, and their parent or
    init reaps them. Waiting for that here cost 0.7 s per sandbox (init reaps slowly); a lease
    prefers a uid without them instead (UidLease)."""
    for _ in range(50):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and not _zombie(entry):
                    found = True
                    os.kill(int(entry), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        if not found:
            return
        time.sleep(0.05)


def _zombie(pid: str) -> bool:
    """Whether /proc/<pid> is a process that has exited and waits to be reaped."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat_line = handle.read()
    # "pid (comm) state ...": comm may hold spaces and parentheses, so look after the last ")".
    return stat_line[stat_line.rindex(b")") + 2 :][:1] == b"Z"


def uids_with_processes() -> set[int]:
    """The uids that own a process (zombies included)."""
    owners = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                owners.add(os.stat(f"/proc/{entry}").st_uid)
            except FileNotFoundError:
                continue
    return owners


def world_readable_ancestor(path: Path) -> Path | None:
    """`path` if others can read it and every folder above it is searchable by others, else None."""
    path = path.resolve()
    try:
        readable = bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return None
    return path if readable and passable_by_others(path.parent) else None


# --------------------------------------------------------------------------- cgroups

# Where each controller's cgroups are made: cgroup v2's single hierarchy, or v1's one per controller.
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = {"pids": Path("/sys/fs/cgroup/pids"), "memory": Path("/sys/fs/cgroup/memory")}
_LIMIT_FILES = {
    ("pids", 2): "pids.max",
    ("pids", 1): "pids.max",
    ("memory", 2): "memory.max",
    ("memory", 1): "memory.limit_in_bytes",
}


CGROUP_PREFIX = "grader-"
# A grading's cgroup holds a process within seconds of being made and is removed when the grading
# ends; one that is empty and older than this was left by a grader that was killed.
STALE_CGROUP_AGE_S = 600.0


def sweep_stale_cgroups(min_age_s: float = STALE_CGROUP_AGE_S) -> int:
    """Remove the empty grader cgroups older than `min_age_s` (a killed grader's); how many went.

    A young empty one may belong to a grading that has made it and not yet started its process,
    so only old ones go; one with a process in it is never touched."""
    removed = 0
    now = time.time()
    for root in {_CGROUP_V2, *_CGROUP_V1.values()}:
        try:
            candidates = [p for p in root.iterdir() if p.name.startswith(CGROUP_PREFIX)]
        except OSError:
            continue
        for path in candidates:
            try:
                if now - path.stat().st_mtime < min_age_s or (path / "cgroup.procs").read_text().strip():
                    continue
                path.rmdir()  # fails, harmlessly, if a process entered it meanwhile
                removed += 1
            except OSError:
                continue
    return removed


class SandboxCgroup:
    """A cgroup per controller for one sandbox, where the host lets us make one; else inert.

    pids: processes and threads of the whole sandbox (RLIMIT_NPROC does not count for a root-owned
    one). memory: everything the sandbox holds together, its /tmp, HOME and /dev/shm (tmpfs pages
    are charged to the cgroup that writes them) included, where RLIMIT_AS bounds one process only.
    """

    def __init__(self, limits: dict[str, int] | None):
        self.paths: list[Path] = []
        self.controllers: list[str] = []
        if not limits:  # no sandbox, no cgroup
            return
        sweep_stale_cgroups()
        name = f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        v2_controllers = self._v2_controllers()
        for controller, value in limits.items():
            if controller in v2_controllers:
                root, version = _CGROUP_V2, 2
            elif (_CGROUP_V1[controller] / "cgroup.procs").exists():
                root, version = _CGROUP_V1[controller], 1
            else:
                continue
            candidate = root / name
            try:
                candidate.mkdir(exist_ok=version == 2)  # v2: one folder serves every controller
                (candidate / _LIMIT_FILES[(controller, version)]).write_text(str(value))
            except OSError:  # not ours to make here (read-only cgroupfs, no delegation)
                if candidate not in self.paths:
                    try:
                        candidate.rmdir()
                    except OSError:
                        pass
                continue
            if candidate not in self.paths:
                self.paths.append(candidate)
            self.controllers.append(controller)

    @staticmethod
    def _v2_controllers() -> set[str]:
        try:
            return set((_CGROUP_V2 / "cgroup.subtree_control").read_text().split())
        except OSError:
            return set()

    def enter(self) -> None:
        """Move the calling process in (called between fork and exec: nothing escapes the count)."""
        for path in self.paths:
            with open(path / "cgroup.procs", "w") as handle:
                handle.write(str(os.getpid()))

    def kill_all(self) -> None:
        for path in self.paths:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths:
            for _ in range(40):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break  # swept already (sweep_stale_cgroups): it was empty
                except OSError:
                    time.sleep(0.05)
        self.paths = []


# --------------------------------------------------------------------------- starting a child


@dataclass
class SandboxedProcess:
    """A started child and what must be undone when it ends."""

    process: subprocess.Popen
    isolation: Isolation
    cgroup: SandboxCgroup
    lease: UidLease | None = None
    quota: bool = False  # the work folder is a tmpfs with a hard quota (else the parent measures it)
    closed: bool = False

    def kill(self) -> None:
        """Kill the sandbox and every process in it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.cgroup.kill_all()
        if self.lease is not None:
            kill_uid(self.lease.uid)

    def close(self) -> None:
        """Kill the sandbox, wait for it, release its cgroup and uid; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroup.remove()
        if self.lease is not None:
            self.lease.release()


def start(
    command: list[str],
    *,
    isolation: Isolation,
    work: Path,
    inputs: Path,
    extra_env: dict[str, str],
    limits: Limits,
    **popen: Any,
) -> SandboxedProcess:
    """Start `command` (a python -m ... line) in the sandbox; stdin (default: nothing), stdout and
    stderr as `popen` says. `work` and `inputs` are folders of one box (grader/describe/sandbox/box.py)."""
    cgroup = SandboxCgroup({"pids": limits.processes, "memory": limits.memory_mb * MB} if isolation.isolated else None)
    lease: UidLease | None = None
    user: int | None = None
    quota = False
    staged: dict[bytes, bytes] = {}
    seccomp_fd: int | None = None
    loader: Any = None
    try:
        if isolation.isolated and os.geteuid() == 0:
            # Root never lends its uid to a sandbox: the child runs as a leased unprivileged uid
            # that owns only its work folder (and, under bubblewrap, its private /tmp and HOME),
            # a tmpfs with a hard quota where this host lets root mount one (grader/describe/sandbox/mounts.py).
            lease = UidLease()
            user = lease.uid
            quota = mounts.mount_quota(work, disk_mb=limits.disk_mb, owner=user)
        if isolation.level == "namespaces":
            env = child_environment(extra_env, isolation, BOX_HOME)
            paths = stage_runtime(work.parent) if user is not None else {}
            staged = {source.encode(): target.encode() for source, target in paths.items()}
            if syscalls.available()[0]:
                seccomp_fd = syscalls.program_fd()
                popen["pass_fds"] = (*popen.get("pass_fds", ()), seccomp_fd)
            argv = bwrap_command(
                command, work=work, inputs=inputs, env=env, limits=limits, staged=paths, seccomp_fd=seccomp_fd
            )
            cwd, run_env, owned = str(work), {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, [work]
        else:
            home = work / ".home"
            home.mkdir(exist_ok=True)
            env = child_environment(extra_env, isolation, str(home))
            argv, cwd, run_env, owned = command, str(work), env, [work, home]
            if isolation.level == "uid" and syscalls.available()[0]:
                loader = syscalls.prepared_loader()
        if user is not None:  # the sandbox's uid owns its work folder (and the fallback's HOME), nothing else
            for path in owned:
                os.chown(path, user, user)
                os.chmod(path, 0o700)
    except BaseException:
        _undo(cgroup, lease, seccomp_fd, work if quota else None)
        raise

    def before_exec() -> None:  # in the child, between fork and exec
        cgroup.enter()
        limits.apply()
        if staged:
            mounts.bind_staged(staged)
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
        die_with_parent()  # after setuid, which clears it; bwrap has --die-with-parent as well
        if loader is not None:
            loader.load()  # the uid fallback's child: its own filter, now that it is unprivileged

    try:
        popen.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(argv, cwd=cwd, env=run_env, start_new_session=True, preexec_fn=before_exec, **popen)
    except BaseException:
        _undo(cgroup, lease, seccomp_fd, work if quota else None)
        raise
    if seccomp_fd is not None:
        os.close(seccomp_fd)  # bubblewrap has its own copy
    return SandboxedProcess(process, isolation, cgroup, lease, quota=quota)


def _undo(cgroup: SandboxCgroup, lease: UidLease | None, seccomp_fd: int | None, quota: Path | None) -> None:
    """What start() made, undone when the child could not be started."""
    cgroup.remove()
    if lease is not None:
        lease.release()
    if seccomp_fd is not None:
        os.close(seccomp_fd)
    if quota is not None:
        mounts.unmount(quota)


def box_paths(isolation: Isolation, work: Path, inputs: Path) -> tuple[str, str]:
    """(work folder, inputs folder) as the child sees them."""
    if isolation.level == "namespaces":
        return BOX_WORK, BOX_INPUTS
    return str(work), str(inputs)
