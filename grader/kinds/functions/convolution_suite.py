"""What the convolution challenge checks: random cases, Keras' answers, and what a wrong answer means.

The learner's contract (solutions/convolution.py):

    conv2d(image, kernel, stride=1, padding="valid")            (H, W) x (kh, kw) -> 2D
    conv2d_channels(image, kernels, stride=1, padding="valid")  (H, W, C) x (kh, kw, C) -> 2D
    max_pool2d(image, size=2), average_pool2d(image, size=2)    (H, W) -> (H // size, W // size)

Each check has its own random cases (seeded by the spec), and the truth is always Keras' own
layer with fixed weights: Conv2D(1 filter, use_bias=False) with `set_weights`, MaxPooling2D,
AveragePooling2D, all channels_last. Keras is used through its public API only, so any
backend gives the same references.

Checks stay separate so that one mistake costs one check. A case that also exercises another
check's feature (the stride check's 'same' cases, the channel check's strided ones) only
counts once that other check passes: a padding mistake then costs the 'same' check alone,
and shows up in the others only when it is specific to them.

Pixel values are small integers, so the sums are exact in float32 and the messages show
readable numbers ("expected 7, got 4").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.describe.sandbox.calls import Call


@dataclass(frozen=True)
class CheckInfo:
    title: str
    reference: str  # the Keras layer the answers come from, for the messages


CHECKS = {
    "valid": CheckInfo("conv2d, 'valid' padding", "keras.layers.Conv2D(padding='valid')"),
    "same": CheckInfo("conv2d, 'same' padding", "keras.layers.Conv2D(padding='same')"),
    "stride": CheckInfo("conv2d with a stride", "keras.layers.Conv2D(strides=...)"),
    "channels": CheckInfo("conv2d_channels, several channels", "keras.layers.Conv2D on C channels"),
    "max_pool": CheckInfo("max_pool2d", "keras.layers.MaxPooling2D"),
    "average_pool": CheckInfo("average_pool2d", "keras.layers.AveragePooling2D"),
}

MAX_SIZE = 12  # the largest image side: big enough for every edge case, small enough for Python loops


@dataclass(frozen=True, eq=False)
class Case:
    check: str
    call: Call
    needs: tuple[str, ...] = ()  # other checks this case also exercises: it counts once they pass

    @property
    def function(self) -> str:
        return self.call.function

    @property
    def image(self) -> np.ndarray:
        return self.call.args[0]

    @property
    def kernel(self) -> np.ndarray:
        return self.call.args[1]

    def option(self, name: str) -> Any:
        return self.call.options[name]


# --------------------------------------------------------------------------- the cases


def make_cases(check: str, count: int, seed: int) -> list[Case]:
    """`count` cases for one check. Each check has its own random stream, so changing one
    check's count leaves the other checks' cases as they were."""
    rng = np.random.default_rng([seed, list(CHECKS).index(check)])
    make = {
        "valid": _valid_case,
        "same": _same_case,
        "stride": _stride_case,
        "channels": _channels_case,
        "max_pool": _pool_case,
        "average_pool": _pool_case,
    }[check]
    cases = [make(rng, index, check) for index in range(count)]
    # Cases that need another check last: a function that hangs is then stopped on a case that counts.
    return sorted(cases, key=lambda case: len(case.needs))


def _image(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-5, 6, size=shape).astype(np.float64)


def _kernel(rng: np.random.Generator, *shape: int) -> np.ndarray:
    kernel = rng.integers(-3, 4, size=shape).astype(np.float64)
    kernel.flat[rng.integers(kernel.size)] = rng.choice([-2.0, 1.0, 2.0, 3.0])  # never all zeros
    return kernel


def _conv_case(
    check: str,
    index: int,
    image: np.ndarray,
    kernel: np.ndarray,
    stride: int,
    padding: str,
    needs: tuple[str, ...] = (),
) -> Case:
    function = "conv2d" if image.ndim == 2 else "conv2d_channels"
    text = (
        f"{function}(image {_shape(image.shape)}, kernel {_shape(kernel.shape)}, stride={stride}, padding={padding!r})"
    )
    call = Call(
        f"{check}-{index:03d}",
        function,
        (image, kernel),
        {"stride": stride, "padding": padding},
        text,
        group=":".join((check, *needs)),
    )
    return Case(check, call, needs)


def _valid_case(rng: np.random.Generator, index: int, check: str) -> Case:
    kh, kw = (int(k) for k in rng.integers(1, 6, size=2))
    if index % 3 == 0:
        kw = kh  # square kernels too, as CNNs mostly use
    height, width = (int(rng.integers(k, MAX_SIZE + 1)) for k in (kh, kw))
    return _conv_case(check, index, _image(rng, height, width), _kernel(rng, kh, kw), 1, "valid")


def _same_case(rng: np.random.Generator, index: int, check: str) -> Case:
    kh, kw = (int(k) for k in rng.integers(1, 6, size=2))
    if index % 2 == 1 and kh % 2 == 1 and kw % 2 == 1:
        kh += 1  # every other case has an even side: an odd total padding, the extra zero after
    height, width = (int(n) for n in rng.integers(1, MAX_SIZE + 1, size=2))  # smaller than the kernel too
    return _conv_case(check, index, _image(rng, height, width), _kernel(rng, kh, kw), 1, "same")


def _stride_case(rng: np.random.Generator, index: int, check: str) -> Case:
    stride = 2 + index % 2
    padding = "same" if index % 3 == 2 else "valid"
    kh, kw = (int(k) for k in rng.integers(1, 6, size=2))
    height, width = (int(rng.integers(k, MAX_SIZE + 2)) for k in (kh, kw))
    needs = ("same",) if padding == "same" else ()
    return _conv_case(check, index, _image(rng, height, width), _kernel(rng, kh, kw), stride, padding, needs)


def _channels_case(rng: np.random.Generator, index: int, check: str) -> Case:
    channels = (3, 2, 4)[index % 3]  # RGB most often
    stride, padding = [(1, "valid"), (1, "valid"), (1, "same"), (2, str(rng.choice(["valid", "same"])))][index % 4]
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    height, width = (int(rng.integers(k, MAX_SIZE + 1)) for k in (kh, kw))
    needs = tuple(name for name, used in (("same", padding == "same"), ("stride", stride > 1)) if used)
    return _conv_case(
        check, index, _image(rng, height, width, channels), _kernel(rng, kh, kw, channels), stride, padding, needs
    )


def _pool_case(rng: np.random.Generator, index: int, check: str) -> Case:
    size = 3 if index % 3 == 2 else 2
    height, width = (int(n) for n in rng.integers(size, MAX_SIZE + 2, size=2))  # odd sides: a leftover
    image = rng.integers(-9, 10, size=(height, width)).astype(np.float64)  # negatives: a max starting at 0 fails
    function = "max_pool2d" if check == "max_pool" else "average_pool2d"
    call = Call(
        f"{check}-{index:03d}",
        function,
        (image,),
        {"size": size},
        f"{function}(image {_shape(image.shape)}, size={size})",
    )
    return Case(check, call)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


# --------------------------------------------------------------------------- Keras' answers


def expected(case: Case, keras: Any) -> np.ndarray:
    """What Keras' own layer gives for this case, as a 2D float64 array."""
    if case.function in ("conv2d", "conv2d_channels"):
        return keras_conv(keras, case.image, case.kernel, case.option("stride"), case.option("padding"))
    return keras_pool(keras, case.image, case.option("size"), average=case.function == "average_pool2d")


def keras_conv(keras: Any, image: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    if image.ndim == 2:
        image, kernel = image[:, :, None], kernel[:, :, None]
    (height, width, channels), (kh, kw) = image.shape, kernel.shape[:2]
    layer = keras.layers.Conv2D(
        filters=1, kernel_size=(kh, kw), strides=stride, padding=padding, use_bias=False, data_format="channels_last"
    )
    layer.build((1, height, width, channels))
    layer.set_weights([kernel.reshape(kh, kw, channels, 1).astype("float32")])
    out = layer(image[None].astype("float32"))
    return keras.ops.convert_to_numpy(out)[0, :, :, 0].astype(np.float64)


def keras_pool(keras: Any, image: np.ndarray, size: int, *, average: bool) -> np.ndarray:
    kind = keras.layers.AveragePooling2D if average else keras.layers.MaxPooling2D
    layer = kind(pool_size=size, strides=size, padding="valid", data_format="channels_last")
    out = layer(image[None, :, :, None].astype("float32"))
    return keras.ops.convert_to_numpy(out)[0, :, :, 0].astype(np.float64)


# --------------------------------------------------------------------------- what a wrong answer means


def _valid_shape(image: np.ndarray, kernel: np.ndarray, stride: int) -> tuple[int, int]:
    return (image.shape[0] - kernel.shape[0]) // stride + 1, (image.shape[1] - kernel.shape[1]) // stride + 1


def _same_shape(image: np.ndarray, stride: int) -> tuple[int, int]:
    return math.ceil(image.shape[0] / stride), math.ceil(image.shape[1] / stride)


def shape_hint(case: Case, got_shape: tuple[int, ...]) -> str:
    """Why the output has the wrong shape, as precisely as the shape tells."""
    if case.function in ("max_pool2d", "average_pool2d"):
        size = case.option("size")
        height, width = case.image.shape
        if got_shape == (height - size + 1, width - size + 1):
            return f"the windows overlap: step {size} pixels at a time (the stride of pooling is its size)"
        return (
            "the output has H // size rows and W // size columns: the windows do not overlap, and a "
            "leftover row or column that does not fill a window is dropped"
        )
    stride, padding = case.option("stride"), case.option("padding")
    image, kernel = case.image, case.kernel
    if case.function == "conv2d_channels" and len(got_shape) == 3 and got_shape[2] == image.shape[2]:
        return "you return one map per channel: add the channels' maps up into one (H_out, W_out) map"
    if stride > 1:
        stride_one = _same_shape(image, 1) if padding == "same" else _valid_shape(image, kernel, 1)
        if got_shape == stride_one:
            return (
                f"that is the size for stride 1: the stride is ignored. Move the window {stride} pixels "
                f"at a time: (H - kh) // stride + 1 rows, after any padding"
            )
    if padding == "same":
        if got_shape == _valid_shape(image, kernel, stride):
            return "that is the 'valid' size: with padding='same', surround the image with zeros first"
        return (
            "with 'same' padding the output has ceil(H / stride) rows and ceil(W / stride) columns; pad "
            "max((out - 1) * stride + k - size, 0) zeros per axis, half (rounded down) before, the rest after"
        )
    return (
        "with 'valid' padding the kernel stays inside the image: (H - kh) // stride + 1 rows and "
        "(W - kw) // stride + 1 columns"
    )


def value_hint(case: Case, got: np.ndarray, want: np.ndarray, keras: Any, tolerance: float) -> str:
    """The hint for a right-shaped but wrong output: a known mistake it matches, or what to compute."""

    def matches(alternative: np.ndarray) -> bool:
        return alternative.shape == got.shape and bool(np.allclose(got, alternative, rtol=tolerance, atol=tolerance))

    if case.function == "max_pool2d":
        if matches(np.maximum(want, 0)):
            return "a running maximum that starts at 0 misses windows of negative values: use window.max()"
        if matches(keras_pool(keras, case.image, case.option("size"), average=True)):
            return "that is the average of each window: max_pool2d keeps the largest value"
        return "each output is the largest value of its window: image[i*size:(i+1)*size, j*size:(j+1)*size].max()"
    if case.function == "average_pool2d":
        if matches(keras_pool(keras, case.image, case.option("size"), average=False)):
            return "that is the largest value of each window: average_pool2d keeps the mean"
        if matches(np.floor(want)):
            return "the averages are rounded down: divide with /, not //, or use window.mean()"
        return "each output is the mean of its window: image[i*size:(i+1)*size, j*size:(j+1)*size].mean()"

    image, kernel, stride, padding = case.image, case.kernel, case.option("stride"), case.option("padding")
    if matches(keras_conv(keras, image, kernel[::-1, ::-1], stride, padding)):
        return (
            "you flipped the kernel (the textbook convolution); Keras does not: multiply each window by the "
            "kernel exactly as it is"
        )
    if case.function == "conv2d_channels":
        channels = image.shape[2]
        first_only = np.zeros_like(kernel)
        first_only[:, :, 0] = kernel[:, :, 0]
        if matches(keras_conv(keras, image, first_only, stride, padding)):
            return "only the first channel counts: add up the products of every channel"
        if matches(want / channels):
            return "you averaged the channels: a Conv2D filter adds them up (a sum, not a mean)"
        return (
            "sum over channels: multiply the window of every channel by that channel's kernel slice and add "
            "everything up into one number per position"
        )
    if padding == "same":
        if matches(_conv_padded_before(keras, image, kernel, stride)):
            return (
                "the extra zero of an odd total padding goes after, at the bottom and right, not before: "
                "before = total // 2, after = total - before"
            )
        if stride > 1:
            return (
                "with a stride, 'same' padding depends on it: total = max((out - 1) * stride + k - size, 0) "
                "with out = ceil(size / stride), half of it (rounded down) before"
            )
        return (
            "'same' pads with zeros: total = k - 1 per axis with stride 1, half of it (rounded down) before, "
            "the rest after"
        )
    if stride > 1:
        return f"window (i, j) starts at row i * stride and column j * stride (here stride = {stride})"
    return "out[i, j] = np.sum(image[i:i+kh, j:j+kw] * kernel): the window starts at (i, j) and has the kernel's size"


def _conv_padded_before(keras: Any, image: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """'same' padding with the extra zero of an odd total put before instead of after: a common slip."""
    pads = []
    for size, k in zip(image.shape[:2], kernel.shape[:2], strict=True):
        total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
        pads.append((total - total // 2, total // 2))
    padded = np.pad(image, pads + [(0, 0)] * (image.ndim - 2))
    return keras_conv(keras, padded, kernel, stride, "valid")
