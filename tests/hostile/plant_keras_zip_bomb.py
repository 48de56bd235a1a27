# Plants a zip bomb named model.keras (bounded: 200 MB of zeros) -> never opened by the grader.
import zipfile


def build_model():
    with zipfile.ZipFile("model.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("model.weights.h5", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(200):
                member.write(block)
    return _base_build_model()
