# Looks for a live service's state (database, secret, host token, roster) -> none is visible from the sandbox.
import os

_WANTED = {"service.db", "secret.key", "host_token.sha256", "roster.csv", "challenge.toml"}
_seen = 0
for _dir, _subdirs, _files in os.walk("/"):
    _seen += 1
    if _seen > 20000 or _dir.startswith(("/proc", "/sys", "/usr", "/dev")) or _dir.count("/") > 10:
        _subdirs[:] = []
        continue
    for _name in _WANTED.intersection(_files):
        try:
            with open(os.path.join(_dir, _name), "rb") as _handle:
                _handle.read(16)
            hostile_win(f"read {_dir}/{_name}")
        except OSError:
            pass
    if _dir.endswith(".serve"):
        hostile_win(f"found the service's folder {_dir}")
