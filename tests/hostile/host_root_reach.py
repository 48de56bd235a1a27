# As root on the host, tries what a uid-0-mapped sandbox could: write host kernel settings (/proc/sys, sysrq), ptrace, the kernel keyrings, bpf, perf events, mount -> an unprivileged uid, a read-only /proc/sys and the seccomp filter refuse every one.
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
for _path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sysrq-trigger",
              "/proc/sys/vm/drop_caches", "/proc/sys/kernel/hostname", "/proc/sys/fs/mqueue/msg_max"):
    try:
        _fd = os.open(_path, os.O_WRONLY)
        os.close(_fd)  # opened only: nothing is ever written
        hostile_win(f"could open {_path} for writing")
    except OSError:
        pass
if _libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH to the sandbox's first process
    hostile_win("ptrace")
for _name, _number, _args in (("keyctl", 250, (0, -3, 0, 0)), ("add_key", 248, (b"user", b"k", b"v", 1, -2)),
                              ("bpf", 321, (0, 0, 0)), ("perf_event_open", 298, (0, 0, -1, -1, 0)),
                              ("userfaultfd", 323, (0,)), ("mount", 165, (b"none", b"/tmp", b"tmpfs", 0, 0))):
    if os.uname().machine == "x86_64" and _libc.syscall(_number, *_args) >= 0:
        hostile_win(_name)
if os.getuid() == 0 or os.geteuid() == 0:
    hostile_win("root inside the sandbox")
