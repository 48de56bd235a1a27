# Creates a user namespace of its own to regain capabilities -> bubblewrap's --disable-userns refuses it.
import ctypes

_libc = ctypes.CDLL(None, use_errno=True)
if _libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
    hostile_win("made a new user namespace")
