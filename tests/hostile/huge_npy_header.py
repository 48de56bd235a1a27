# preprocess() output replaced by a .npy whose header claims 256 TiB -> the header is checked against the bytes before any allocation: preprocess() is refused, the grader does not crash.
import numpy as _numpy

_original_save = _numpy.save


def _forged_save(path, array, allow_pickle=False):
    if str(path).endswith("_out.npy"):
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (17592186044416, 4), }".ljust(117) + "\n"
        with open(path, "wb") as handle:
            handle.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64)
        return
    _original_save(path, array, allow_pickle=allow_pickle)


_numpy.save = _forged_save  # the child looks numpy.save up when it saves
