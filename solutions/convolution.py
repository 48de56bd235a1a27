"""Convolution and pooling by hand, in NumPy: what Conv2D and MaxPooling2D compute.

Nothing is trained here. You write, with plain NumPy and loops, the operations a CNN is made
of, and the grader compares them with Keras' own layers on many random images.

A convolution slides a small grid of weights, the kernel, over the image. At each position
it multiplies the pixels under the kernel by the weights and adds the products up: one
number per position. A 3x3 kernel of 1/9 blurs, a kernel with 5 in the middle and -1 around
it sharpens, and a CNN learns its kernels from the data.

    image            kernel         output[0, 0] = 1*1 + 2*0 + 3*(-1)
    1  2  3  4       1  0 -1                     + 5*1 + 6*0 + 7*(-1)
    5  6  7  8       1  0 -1                     + 9*1 + 8*0 + 7*(-1)  = -2
    9  8  7  6       1  0 -1

Keras, like every deep-learning library, does NOT flip the kernel first (the textbook
"convolution" does; this is strictly a cross-correlation). Multiply the window by the kernel
exactly as it is.

You fill in five TODOs; the grader calls four functions (all arrays are NumPy arrays):

    conv2d(image, kernel, stride=1, padding="valid")           (H, W) image, (kh, kw) kernel
    conv2d_channels(image, kernels, stride=1, padding="valid") (H, W, C) image, (kh, kw, C) kernel
    max_pool2d(image, size=2)                                  (H, W) image
    average_pool2d(image, size=2)                              (H, W) image

Each returns a new 2D float array. Check your work in seconds with `grade check
convolution.py`, and see your convolution at work on a photo with
`grade kernel photo.jpg --preset sharpen --implementation convolution.py`.
"""

import math

import numpy as np


def conv2d(image, kernel, stride=1, padding="valid"):
    """Slide `kernel` over a single-channel `image`, as keras.layers.Conv2D does.

    image:   (H, W) array, one channel (a grayscale picture)
    kernel:  (kh, kw) array of weights
    stride:  how many pixels the kernel moves at each step, down and across
    padding: "valid": the kernel stays inside the image, so the output shrinks;
             "same":  zeros are added around the image first, so that with stride 1 the
                      output has the image's size (with stride s: ceil(H / s) rows)
    Returns the (H_out, W_out) float array of the sums.
    """
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")
    if stride < 1:
        raise ValueError(f"stride must be 1 or more, not {stride}")
    kh, kw = kernel.shape

    # 'same' padding: surround the image with zeros (how many: TODO 2, below), then
    # convolve the bigger image exactly as with 'valid'.
    if padding == "same":
        top, bottom = same_padding(image.shape[0], kh, stride)
        left, right = same_padding(image.shape[1], kw, stride)
        image = np.pad(image, ((top, bottom), (left, right)))  # np.pad adds zeros by default

    # TODO 1: Slide the kernel over the image, `stride` pixels at a time, and return the sums.
    # The output has (H - kh) // stride + 1 rows and (W - kw) // stride + 1 columns (H, W:
    # the image's size after padding): the last window must still fit inside the image.
    # Output pixel (i, j) covers the window that starts at row r = i * stride and column
    # c = j * stride: image[r:r + kh, c:c + kw]. It is np.sum(window * kernel), the kernel
    # not flipped. Start from out = np.zeros((rows, columns)) and fill it in two loops.
    ### BEGIN SOLUTION
    rows = (image.shape[0] - kh) // stride + 1
    columns = (image.shape[1] - kw) // stride + 1
    out = np.zeros((rows, columns))
    for i in range(rows):
        for j in range(columns):
            r, c = i * stride, j * stride
            window = image[r:r + kh, c:c + kw]
            out[i, j] = np.sum(window * kernel)
    return out
    ### END SOLUTION


def same_padding(size, kernel_size, stride):
    """(before, after): how many zeros 'same' padding adds on each side of one axis.

    For the rows: size is H, kernel_size is kh, and the zeros go above and below.
    """
    # TODO 2: Work out the zeros 'same' padding adds before and after, exactly as Keras does.
    # The output keeps out = ceil(size / stride) positions (math.ceil). The last window then
    # ends at (out - 1) * stride + kernel_size, so that many pixels are needed: the missing
    # ones are the total padding, max(needed - size, 0). Keras puts half of it, rounded down,
    # before and the rest after, so an odd total has its extra zero at the bottom or right.
    # Example: size 6, kernel 3, stride 2 -> out 3, needed 7, total 1 -> (0, 1).
    ### BEGIN SOLUTION
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    before = total // 2
    return before, total - before
    ### END SOLUTION


def conv2d_channels(image, kernels, stride=1, padding="valid"):
    """Convolve a multi-channel `image` (an RGB photo, or a layer's feature maps) into ONE map.

    image:   (H, W, C) array, C channels
    kernels: (kh, kw, C) array: one kh x kw slice of weights per channel
    Returns one (H_out, W_out) array, as one filter of keras.layers.Conv2D does.
    """
    image = np.asarray(image, dtype=float)
    kernels = np.asarray(kernels, dtype=float)
    if image.shape[2] != kernels.shape[2]:
        raise ValueError(f"the image has {image.shape[2]} channels but the kernel {kernels.shape[2]}")

    # TODO 3: Convolve every channel with its own slice of the kernel and add the results up.
    # Channel c of the image is image[:, :, c] and its weights are kernels[:, :, c]: conv2d
    # does the rest, with the same stride and padding. A filter of Conv2D sees all channels
    # at once, so the C maps are summed into one (H_out, W_out) map, not stacked or averaged.
    ### BEGIN SOLUTION
    return sum(conv2d(image[:, :, c], kernels[:, :, c], stride, padding) for c in range(image.shape[2]))
    ### END SOLUTION


# Pooling shrinks a map: it cuts it into size x size windows that do not overlap (the stride
# is the size) and keeps one number per window. A leftover row or column that does not fill
# a whole window is dropped, as keras.layers.MaxPooling2D does with its default 'valid'.


def max_pool2d(image, size=2):
    """The largest value of each size x size window of an (H, W) image: (H // size, W // size)."""
    image = np.asarray(image, dtype=float)

    # TODO 4: Keep the largest value of each size x size window.
    # The output has H // size rows and W // size columns. Output pixel (i, j) is
    # image[i * size:(i + 1) * size, j * size:(j + 1) * size].max(). Values may be negative,
    # so do not start a running maximum at 0.
    ### BEGIN SOLUTION
    rows, columns = image.shape[0] // size, image.shape[1] // size
    out = np.zeros((rows, columns))
    for i in range(rows):
        for j in range(columns):
            out[i, j] = image[i * size:(i + 1) * size, j * size:(j + 1) * size].max()
    return out
    ### END SOLUTION


def average_pool2d(image, size=2):
    """The mean of each size x size window of an (H, W) image: (H // size, W // size)."""
    image = np.asarray(image, dtype=float)

    # TODO 5: Average each size x size window.
    # The same windows as max_pool2d, but each output pixel is the window's .mean(), as
    # keras.layers.AveragePooling2D computes it.
    ### BEGIN SOLUTION
    rows, columns = image.shape[0] // size, image.shape[1] // size
    out = np.zeros((rows, columns))
    for i in range(rows):
        for j in range(columns):
            out[i, j] = image[i * size:(i + 1) * size, j * size:(j + 1) * size].mean()
    return out
    ### END SOLUTION


if __name__ == "__main__":
    # Try your functions on the small example at the top of this file.
    example = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 8, 7, 6]])
    edges = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])
    print("valid:\n", conv2d(example, edges))  # [[-2, -2]]
    print("same:\n", conv2d(example, edges, padding="same"))
    print("stride 2, same:\n", conv2d(example, edges, stride=2, padding="same"))
    print("max pool:\n", max_pool2d(example))  # [[6, 8]]
    print("average pool:\n", average_pool2d(example))  # [[3.5, 5.5]]
