# Makes preprocess() output a link to another file after the child wrote it -> read with O_NOFOLLOW: refused.
import atexit
import os


def build_model():
    try:
        os.replace("probe_out.npy", "real.npy")
        os.symlink("/etc/hostname", "probe_out.npy")
    except OSError:
        pass
    return _base_build_model()
