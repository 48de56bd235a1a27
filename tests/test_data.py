"""The data layer on the real datasets: checksums, shapes, balance, splits, caches, bad data,
downloads (from file:// mirrors: no network needed), Keras' own cache, and the CLI."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from grader.cli.data import data as data_cli
from grader.data import DataError, fetch, load_dataset, load_mnist_like_keras, loading, verify
from grader.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from grader.data.locations import DATASETS_DIR
from grader.data.manifest import dataset_info, load_manifest

SPLITS = ("train", "validation", "test")
SIZES = {
    "fashion_mnist": ((50000, 10000, 10000), (28, 28)),
    "mnist": ((50000, 10000, 10000), (28, 28)),
    "cats_vs_dogs": ((2000, 500, 500), (150, 150, 3)),
}
# From ../shared/datasets/mnist/SOURCES.md: MNIST is not balanced.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ----------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[str, str] | None:
    """Every entry under folder (hidden ones too) with a sha256 for files: to show nothing changed."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
        for p in sorted(folder.rglob("*"))
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(labels: np.ndarray, classes: int) -> list[int]:
    return np.bincount(labels, minlength=classes).tolist()


def write_mini_manifest(folder: Path, body: str) -> Path:
    path = folder / "manifest.toml"
    path.write_text("schema = 1\n" + body)
    return path


def mini_photos(data_dir: Path, root: Path) -> Path:
    """A 6-photo cats_vs_dogs look-alike: train cat/dog .0-.1, validation .2000 and .2001 of each."""
    folder = root / "mini_pets"
    for relative in [
        "train/cats/cat.0.jpg",
        "train/cats/cat.1.jpg",
        "train/dogs/dog.0.jpg",
        "train/dogs/dog.1.jpg",
        "validation/cats/cat.2000.jpg",
        "validation/dogs/dog.2000.jpg",
        "validation/cats/cat.2001.jpg",
        "validation/dogs/dog.2001.jpg",
    ]:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / "cats_vs_dogs" / relative, folder / relative)
    return folder


def mini_photos_manifest(folder: Path, where: Path, archive: str | None = None) -> Path:
    """A manifest for mini_photos(), with the sha256 of the files as they are now."""
    sums = "".join(f"{sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in sorted(folder.rglob("*.jpg")))
    (where / "mini_pets.sha256").write_text(sums)
    return write_mini_manifest(
        where,
        f"""
[datasets.mini_pets]
format = "jpeg_folders"
image_shape = [150, 150, 3]
class_names = ["cat", "dog"]
class_folders = ["cats", "dogs"]
checksums = "mini_pets.sha256"
{f'archive = "{archive}"' if archive else ""}
[datasets.mini_pets.splits]
train = {{ folder = "train", first = 0, last = 1 }}
validation = {{ folder = "validation", first = 2000, last = 2000 }}
test = {{ folder = "validation", first = 2001, last = 2001 }}
""",
    )


def mnist_mirror_manifest(where: Path, mirrors: list[str]) -> Path:
    """MNIST's real files and checksums under another name, downloaded from the given mirrors."""
    files = ",\n".join(
        f'  {{ name = "{f.path}", bytes = {f.size}, sha256 = "{f.sha256}" }}' for f in dataset_info("mnist").files
    )
    return write_mini_manifest(
        where,
        f"""
[datasets.mnist_mirror]
format = "idx"
image_shape = [28, 28]
class_names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
mirrors = {mirrors!r}
files = [
{files}
]
[datasets.mnist_mirror.splits]
train = {{ images = "train-images-idx3-ubyte.gz", labels = "train-labels-idx1-ubyte.gz", start = 0, stop = 50000 }}
test = {{ images = "t10k-images-idx3-ubyte.gz", labels = "t10k-labels-idx1-ubyte.gz", start = 0, stop = 10000 }}
[datasets.mnist_mirror.splits.validation]
images = "train-images-idx3-ubyte.gz"
labels = "train-labels-idx1-ubyte.gz"
start = 50000
stop = 60000
""".replace("'", '"'),
    )


@pytest.fixture
def no_env(monkeypatch):
    """Only what a test passes explicitly: no data folder or cache from the environment."""
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    monkeypatch.delenv("GRADER_CACHE_DIR", raising=False)


@pytest.fixture(scope="module")
def datasets(shared_cache):
    return {name: load_dataset(name, cache_dir=shared_cache, download=False) for name in SIZES}


@pytest.fixture
def used_cache(shared_cache, tmp_path) -> Path:
    """A cache that already holds something: a converted MNIST and a stale Fashion-MNIST entry."""
    cache = tmp_path / "cache"
    shutil.copytree(shared_cache / "converted" / "mnist", cache / "converted" / "mnist")
    stale = cache / "converted" / "fashion_mnist"
    stale.mkdir(parents=True)
    (stale / "stamp.json").write_text('{"cache_format": 0}')
    return cache


# ----------------------------------------------------------------------------- checksums, shapes, balance


def test_manifest_checksums_are_the_verified_ones(data_dir):
    for name in ("fashion_mnist", "mnist"):
        sources = (data_dir / name / "SOURCES.md").read_text()
        for f in dataset_info(name).files:
            row = f"| {f.path} | {f.size} |"
            assert row in sources and f.sha256 in sources, f"{name}/{f.path} differs from SOURCES.md"
            assert sha256(data_dir / name / f.path) == f.sha256
    committed = DATASETS_DIR / "cats_vs_dogs.sha256"
    assert committed.read_bytes() == (data_dir / "cats_vs_dogs" / "SHA256SUMS").read_bytes()
    assert sha256(committed) == "1038899e48a7940e57130c1e44aac4b2207dfa9423304b777f6acc3ad08d1537"
    assert len(dataset_info("cats_vs_dogs").files) == 3000


@pytest.mark.parametrize("name", SIZES)
def test_shapes_and_types(datasets, name):
    sizes, shape = SIZES[name]
    data = datasets[name]
    for split, size in zip(SPLITS, sizes, strict=True):
        part = data.split(split)
        assert part.images.shape == (size, *shape) and part.images.dtype == np.uint8
        assert part.labels.shape == (size,) and part.labels.dtype == np.int64
    assert data.class_names == dataset_info(name).class_names


def test_class_names():
    assert load_manifest()["fashion_mnist"].class_names[0] == "T-shirt/top"
    assert load_manifest()["fashion_mnist"].class_names[9] == "Ankle boot"
    assert load_manifest()["mnist"].class_names == tuple("0123456789")
    assert load_manifest()["cats_vs_dogs"].class_names == ("cat", "dog")


def test_class_balance(datasets):
    fashion = datasets["fashion_mnist"]
    train, validation = counts(fashion.train.labels, 10), counts(fashion.validation.labels, 10)
    assert [t + v for t, v in zip(train, validation, strict=True)] == [6000] * 10  # the official 6,000 per class
    assert all(900 <= v <= 1100 for v in validation)  # the last 10,000 are roughly balanced too
    assert counts(fashion.test.labels, 10) == [1000] * 10
    mnist = datasets["mnist"]
    assert [
        t + v for t, v in zip(counts(mnist.train.labels, 10), counts(mnist.validation.labels, 10), strict=True)
    ] == MNIST_TRAIN_COUNTS
    assert counts(mnist.test.labels, 10) == MNIST_TEST_COUNTS
    cats = datasets["cats_vs_dogs"]
    assert counts(cats.train.labels, 2) == [1000, 1000]
    assert counts(cats.validation.labels, 2) == [250, 250]
    assert counts(cats.test.labels, 2) == [250, 250]


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_idx_splits_are_the_official_files_in_order(datasets, data_dir, name):
    """train = first 50,000 of the training file, validation = its last 10,000, test = t10k."""

    def official(file: str, header: int) -> np.ndarray:
        return np.frombuffer(gzip.decompress((data_dir / name / file).read_bytes()), np.uint8, offset=header)

    data = datasets[name]
    train_images = official("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    train_labels = official("train-labels-idx1-ubyte.gz", 8)
    assert np.array_equal(data.train.images, train_images[:50000])
    assert np.array_equal(data.validation.images, train_images[50000:])
    assert np.array_equal(data.validation.labels, train_labels[50000:])
    assert np.array_equal(data.test.images, official("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28))
    assert np.array_equal(data.test.labels, official("t10k-labels-idx1-ubyte.gz", 8))


def test_cats_vs_dogs_splits_are_disjoint_and_by_file_name(datasets):
    info = dataset_info("cats_vs_dogs")
    files = {split: [path for path, _ in info.split_files(split)] for split in SPLITS}
    assert not set(files["test"]) & (set(files["train"]) | set(files["validation"]))
    assert not set(files["train"]) & set(files["validation"])
    assert sorted(sum(files.values(), [])) == sorted(f.path for f in info.files)  # every file, once
    test_indices = {int(re.search(r"\.(\d+)\.jpg$", p).group(1)) for p in files["test"]}
    assert test_indices == set(range(2250, 2500)) and all(p.startswith("validation/") for p in files["test"])
    assert files["test"][:2] == ["validation/cats/cat.2250.jpg", "validation/dogs/dog.2250.jpg"]
    # And by content: no test photo is also a training or validation photo.
    cats = datasets["cats_vs_dogs"]
    seen = {
        hashlib.sha256(image.tobytes()).digest()
        for image in np.concatenate([cats.train.images, cats.validation.images])
    }
    assert not any(hashlib.sha256(image.tobytes()).digest() in seen for image in cats.test.images)
    assert cats.train.labels[:4].tolist() == [0, 1, 0, 1]  # classes interleaved: any prefix is balanced


def test_split_take_and_lookup(datasets):
    fashion = datasets["fashion_mnist"]
    first = fashion.train.take(100)
    assert len(first) == 100 and np.array_equal(first.images, fashion.train.images[:100])
    assert len(fashion.test.take(10**9)) == 10000
    assert fashion.split("validation") is fashion.validation
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        fashion.split("dev")


# ----------------------------------------------------------------------------- the converted cache


def test_second_load_comes_from_the_cache(shared_cache, datasets, tmp_path, no_env, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the raw files were read although the cache is intact")

    monkeypatch.setattr(loading, "find_raw", must_not_run)
    monkeypatch.setattr(loading, "convert", must_not_run)
    again = load_dataset("fashion_mnist", data_dir=tmp_path / "nothing here", cache_dir=shared_cache, download=False)
    assert np.array_equal(again.test.images, datasets["fashion_mnist"].test.images)
    assert again.train.images.flags.writeable
    [result] = fetch(["fashion_mnist"], cache_dir=shared_cache, download=False)
    assert result.source == "converted cache" and result.files_verified == 0


def test_damaged_cache_is_rebuilt_from_the_sources(data_dir, tmp_path, no_env):
    cache = tmp_path / "cache"
    original = load_dataset("mnist", data_dir=data_dir, cache_dir=cache, download=False)
    npy = cache / "converted" / "mnist" / "test_labels.npy"
    good = npy.read_bytes()
    npy.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # same size, one bit flipped
    rebuilt = load_dataset("mnist", data_dir=data_dir, cache_dir=cache, download=False)
    assert np.array_equal(original.test.labels, rebuilt.test.labels)
    assert npy.read_bytes() == good
    assert not list(cache.rglob(".*"))  # no staging leftovers


def test_verify_rehashes_the_sources(data_dir, tmp_path, no_env):
    [result] = verify(["mnist"], data_dir=data_dir, cache_dir=tmp_path / "cache")
    assert (result.source, result.files_verified) == ("--data-dir", 4)
    assert result.split_sizes == {"train": 50000, "validation": 10000, "test": 10000}


# ----------------------------------------------------------------------------- bad data


def copy_dataset(data_dir: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "data" / name
    shutil.copytree(data_dir / name, folder)
    return folder


def test_truncated_gz_is_refused_and_the_cache_untouched(data_dir, used_cache, tmp_path, no_env):
    folder = copy_dataset(data_dir, tmp_path, "fashion_mnist")
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:1000])
    before = snapshot(used_cache)
    with pytest.raises(DataError) as err:
        load_dataset("fashion_mnist", data_dir=folder.parent, cache_dir=used_cache, download=False)
    message = str(err.value)
    assert f"{target} is truncated: 1,000 of 29,515 bytes" in message
    assert "Expected sha256 a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845" in message
    assert f"actual sha256 {sha256(target)}" in message
    assert "set GRADER_DATA_DIR" in message and "grade data fetch --data-dir DIR" in message
    assert snapshot(used_cache) == before


def test_wrong_hash_is_refused_and_the_cache_untouched(data_dir, used_cache, tmp_path, no_env):
    folder = copy_dataset(data_dir, tmp_path, "fashion_mnist")
    target = folder / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[5000] ^= 0xFF
    target.write_bytes(bytes(raw))
    before = snapshot(used_cache)
    with pytest.raises(DataError) as err:
        load_dataset("fashion_mnist", data_dir=folder.parent, cache_dir=used_cache, download=False)
    message = str(err.value)
    assert f"{target} is damaged or not the expected file" in message
    assert "Expected sha256 346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073" in message
    assert f"actual sha256 {sha256(target)}" in message
    assert snapshot(used_cache) == before


def test_missing_folder_is_named_and_the_cache_untouched(data_dir, used_cache, tmp_path, no_env):
    folder = copy_dataset(data_dir, tmp_path, "cats_vs_dogs")
    shutil.rmtree(folder / "validation" / "dogs")
    before = snapshot(used_cache)
    with pytest.raises(DataError) as err:
        load_dataset("cats_vs_dogs", data_dir=folder.parent, cache_dir=used_cache, download=False)
    message = str(err.value)
    assert f"{folder} is incomplete: 500 of 3000 files are missing (missing folder: validation/dogs)" in message
    assert "validation/dogs/dog.2000.jpg" in message and "GRADER_DATA_DIR" in message
    assert snapshot(used_cache) == before


def test_a_png_in_place_of_a_jpeg_fails_its_checksum(data_dir, used_cache, tmp_path, no_env):
    folder = copy_dataset(data_dir, tmp_path, "cats_vs_dogs")
    Image.new("RGB", (20, 20)).save(folder / "train" / "cats" / "cat.5.jpg", format="PNG")
    before = snapshot(used_cache)
    with pytest.raises(
        DataError,
        match=r"train/cats/cat\.5\.jpg is damaged or not the expected file "
        r"\(it should be a JPEG but is a PNG image\)",
    ):
        load_dataset("cats_vs_dogs", data_dir=folder.parent, cache_dir=used_cache, download=False)
    assert snapshot(used_cache) == before


@pytest.mark.parametrize(
    "impostor, expected",
    [
        ("png", "is not a JPEG image: Pillow reads it as PNG"),
        ("text", "is not a JPEG image (not an image format Pillow can read)"),
    ],
)
def test_an_image_that_is_not_a_jpeg_is_refused_by_the_decoder(
    data_dir, used_cache, tmp_path, no_env, impostor, expected
):
    """Even with a matching checksum (a manifest that lists it), a non-JPEG never reaches the cache."""
    photos = mini_photos(data_dir, tmp_path / "data")
    fake = photos / "train" / "dogs" / "dog.1.jpg"
    if impostor == "png":
        Image.new("RGB", (20, 20), "red").save(fake, format="PNG")
    else:
        fake.write_text("this is not a photo\n")
    info = load_manifest(mini_photos_manifest(photos, tmp_path))["mini_pets"]
    before = snapshot(used_cache)
    with pytest.raises(DataError) as err:
        loading.load_from_info(info, data_dir=photos.parent, cache_dir=used_cache, download=False)
    assert f"{fake} {expected}" in str(err.value)
    assert snapshot(used_cache) == before


def test_dataset_found_nowhere_says_where_it_looked(tmp_path, no_env):
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path / "nowhere", cache_dir=cache, download=False)
    message = str(err.value)
    assert "mnist: no copy of the dataset found, and downloading is off" in message
    assert f"--data-dir: no folder {tmp_path / 'nowhere' / 'mnist'}" in message
    assert "$GRADER_DATA_DIR: not set" in message and str(cache / "raw" / "mnist") in message
    assert not cache.exists()


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(
        DataError,
        match=r"unknown dataset 'cifar10'; the known datasets are "
        r"cats_vs_dogs, fashion_mnist, mnist",
    ):
        load_dataset("cifar10", cache_dir=tmp_path)


def test_idx_reader_checks_gzip_and_header(tmp_path):
    whole = gzip.compress(b"".join(n.to_bytes(4, "big") for n in (IMAGES_MAGIC, 10, 28, 28)) + bytes(7840))
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"truncated\.gz is a truncated gzip file"):
        read_idx(truncated, magic=IMAGES_MAGIC)
    labels = tmp_path / "labels.gz"
    labels.write_bytes(gzip.compress((LABELS_MAGIC).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(3)))
    with pytest.raises(DataError, match=r"bad IDX header: magic number 2049 \(IDX labels\), expected 2051"):
        read_idx(labels, magic=IMAGES_MAGIC)
    short = tmp_path / "short.gz"
    short.write_bytes(
        whole[:0] + gzip.compress(b"".join(n.to_bytes(4, "big") for n in (IMAGES_MAGIC, 10, 28, 28)) + bytes(50))
    )
    with pytest.raises(DataError, match=r"promises 7,840 bytes of shape \(10, 28, 28\), the file holds 50"):
        read_idx(short, magic=IMAGES_MAGIC)
    plain = tmp_path / "plain.gz"
    plain.write_text("not gzip")
    with pytest.raises(DataError, match="is not a gzip file"):
        read_idx(plain, magic=IMAGES_MAGIC)


# ----------------------------------------------------------------------------- downloads (file:// URLs)


def test_download_falls_back_to_the_next_mirror_and_fills_the_raw_cache(data_dir, tmp_path, no_env):
    manifest = mnist_mirror_manifest(tmp_path, [f"file://{tmp_path}/no-such-mirror/", f"file://{data_dir}/mnist/"])
    info = load_manifest(manifest)["mnist_mirror"]
    cache = tmp_path / "cache"
    data = loading.load_from_info(info, cache_dir=cache, progress=False)
    assert len(data.train) == 50000
    assert sorted(p.name for p in (cache / "raw" / "mnist_mirror").iterdir()) == sorted(f.path for f in info.files)
    assert not list(cache.rglob(".*"))  # no staging or partial files left behind
    # The raw copy is the third place looked in: with the converted cache gone and no data folder
    # and no downloading, only it can answer.
    shutil.rmtree(cache / "converted")
    again = loading.load_from_info(info, cache_dir=cache, download=False)
    assert np.array_equal(again.test.images, data.test.images)


def test_a_mirror_serving_wrong_bytes_leaves_no_trace(data_dir, tmp_path, no_env):
    mirror = copy_dataset(data_dir, tmp_path, "mnist")
    labels = mirror / "t10k-labels-idx1-ubyte.gz"
    damaged = bytearray(labels.read_bytes())
    damaged[100] ^= 0xFF
    labels.write_bytes(bytes(damaged))
    info = load_manifest(mnist_mirror_manifest(tmp_path, [f"file://{mirror}/"]))["mnist_mirror"]
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as err:
        loading.load_from_info(info, cache_dir=cache, progress=False)
    assert "no mirror served t10k-labels-idx1-ubyte.gz intact" in str(err.value)
    assert "Expected sha256 f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6" in str(err.value)
    assert not cache.exists()


def make_zip(photos: Path, target: Path, skip: str = "") -> None:
    with zipfile.ZipFile(target, "w") as bundle:
        for p in sorted(photos.rglob("*.jpg")):
            relative = p.relative_to(photos).as_posix()
            if relative != skip:
                bundle.write(p, f"cats_and_dogs_filtered/{relative}")
        bundle.writestr("cats_and_dogs_filtered/vectorize.py", "print('ignored')\n")


def test_archive_download_verifies_each_extracted_file(data_dir, tmp_path, no_env):
    photos = mini_photos(data_dir, tmp_path / "source")
    make_zip(photos, tmp_path / "pets.zip")
    info = load_manifest(mini_photos_manifest(photos, tmp_path, archive=f"file://{tmp_path}/pets.zip"))["mini_pets"]
    cache = tmp_path / "cache"
    data = loading.load_from_info(info, cache_dir=cache, progress=False)
    assert [len(data.split(s)) for s in SPLITS] == [4, 2, 2] and data.train.labels.tolist() == [0, 1, 0, 1]
    assert not (cache / "raw" / "mini_pets" / "vectorize.py").exists()

    make_zip(photos, tmp_path / "incomplete.zip", skip="train/dogs/dog.1.jpg")
    manifest = mini_photos_manifest(photos, tmp_path, archive=f"file://{tmp_path}/incomplete.zip")
    info = load_manifest(manifest)["mini_pets"]
    other = tmp_path / "other-cache"
    with pytest.raises(DataError, match=r"incomplete\.zip lacks 1 expected files, e\.g\. train/dogs/dog\.1\.jpg"):
        loading.load_from_info(info, cache_dir=other, progress=False)
    assert not other.exists()


# ----------------------------------------------------------------------------- Keras


def test_seeded_keras_cache_makes_keras_load_fashion_mnist_offline(data_dir, shared_cache, datasets, tmp_path):
    keras_home = tmp_path / "keras"
    [result] = fetch(
        ["fashion_mnist"],
        data_dir=data_dir,
        cache_dir=shared_cache,
        download=False,
        seed_keras=True,
        keras_home=keras_home,
    )
    assert result.keras_cache == keras_home / "datasets" / "fashion-mnist"
    # A proxy that refuses every connection: any download attempt fails at once.
    env = dict(
        os.environ,
        KERAS_HOME=str(keras_home),
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    code = (
        "import hashlib, keras\n"
        "(x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()\n"
        "print(x.shape, xt.shape, hashlib.sha256(x.tobytes()).hexdigest(),"
        " hashlib.sha256(yt.tobytes()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    fashion = datasets["fashion_mnist"]
    x = np.concatenate([fashion.train.images, fashion.validation.images])
    expected = (
        f"(60000, 28, 28) (10000, 28, 28) {hashlib.sha256(x.tobytes()).hexdigest()} "
        f"{hashlib.sha256(fashion.test.labels.astype(np.uint8).tobytes()).hexdigest()}"
    )
    assert out.stdout.strip().splitlines()[-1] == expected


def test_mnist_like_keras(shared_cache, datasets):
    (x, y), (xt, yt) = load_mnist_like_keras(cache_dir=shared_cache, download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert counts(y, 10) == MNIST_TRAIN_COUNTS and counts(yt, 10) == MNIST_TEST_COUNTS
    assert np.array_equal(x[50000:], datasets["mnist"].validation.images)


# ----------------------------------------------------------------------------- the CLI


def test_cli_module_imports_nothing_heavy():
    code = "import sys, grader.cli.data; print(sorted({'numpy', 'PIL', 'keras', 'rich'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"


def test_cli_fetch_verify_and_errors(data_dir, tmp_path, no_env, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    runner = CliRunner()
    ok = runner.invoke(
        data_cli,
        [
            "fetch",
            "mnist",
            "fashion_mnist",
            "--data-dir",
            str(data_dir),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-download",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "mnist" in ok.stdout and "50,000" in ok.stdout and "--data-dir" in ok.stdout
    assert (tmp_path / "keras" / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()
    again = runner.invoke(
        data_cli, ["verify", "mnist", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache")]
    )
    assert again.exit_code == 0 and "mnist" in again.stdout
    bad = runner.invoke(
        data_cli, ["verify", "mnist", "--data-dir", str(tmp_path / "nowhere"), "--cache-dir", str(tmp_path / "other")]
    )
    assert bad.exit_code == 2
    assert "error: mnist: no copy of the dataset found" in bad.stderr and bad.stdout == ""
    unknown = runner.invoke(data_cli, ["fetch", "cifar10", "--no-download", "--cache-dir", str(tmp_path / "c")])
    assert unknown.exit_code == 2 and "unknown dataset 'cifar10'" in unknown.stderr


class _FlakyServer:
    """A web server on 127.0.0.1, started and stopped by the test: answers each path from a script
    of status codes (the last one repeats), 200 with the body."""

    def __init__(self, script: dict[str, list[int]], body: bytes):
        import http.server
        import threading

        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                codes = script.get(self.path, [404])
                code = codes.pop(0) if len(codes) > 1 else codes[0]
                self.send_response(code)
                self.send_header("Content-Length", str(len(body) if code == 200 else 0))
                self.end_headers()
                if code == 200:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> _FlakyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_busy_server_is_tried_again_and_a_missing_file_is_not(tmp_path, monkeypatch):
    from grader.data import download

    monkeypatch.setattr(download, "RETRY_WAIT_S", 0.01)
    body = b"the bytes of one file" * 100
    with _FlakyServer({"/busy": [503, 503, 200], "/gone": [404], "/down": [503]}, body) as server:
        download.download(server.url("/busy"), tmp_path / "busy", progress=False)
        assert (tmp_path / "busy").read_bytes() == body
        with pytest.raises(DataError, match=r"could not download http://127\.0\.0\.1:\d+/gone: Not Found$"):
            download.download(server.url("/gone"), tmp_path / "gone", progress=False)
        with pytest.raises(DataError, match=r"/down: Service Unavailable \(3 tries\)"):
            download.download(server.url("/down"), tmp_path / "down", progress=False)
        assert server.requests.count("/busy") == 3
        assert server.requests.count("/gone") == 1  # another mirror may have it: no waiting here
        assert server.requests.count("/down") == download.ATTEMPTS
    assert not (tmp_path / "gone").exists() and not (tmp_path / "down").exists()
