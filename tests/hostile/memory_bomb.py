# Allocates memory until refused (bounded at 12 GB) -> the address-space limit stops it first.
_chunks = []
try:
    for _ in range(48):  # 48 x 256 MB: a broken limit still stops at 12 GB
        _chunks.append(bytearray(256 * 1024 * 1024))
    hostile_win("allocated 12 GB")
except MemoryError:
    pass
del _chunks
