"""The one image decoder: bytes or a file, every mode to RGB, EXIF orientation applied, bad files named."""

import io

import numpy as np
import pytest
from PIL import Image

from deepart_hf.data.images import decode_image, probe_bytes, upright_rgb
from deepart_hf.errors import DeepArtError


def test_decode_reads_bytes_or_the_file_at_path(deepart_sample):
    path = deepart_sample / "Human" / "Gushici-0.PNG"
    from_bytes = decode_image({"bytes": path.read_bytes(), "path": "Human/Gushici-0.PNG"})
    from_path = decode_image({"bytes": None, "path": str(path)})
    assert from_bytes.mode == from_path.mode == "RGB"
    assert from_bytes.size == (1024, 1024)
    assert np.array_equal(np.asarray(from_bytes), np.asarray(from_path))
    probe = probe_bytes(path.read_bytes())
    assert (probe.file_format, probe.width, probe.height, probe.near_hash) == ("PNG", 1024, 1024, None)
    # The pixel hash is of the decoded pixels: the same pixels re-saved as another lossless format hash the same.
    import io

    resaved = io.BytesIO()
    from_bytes.save(resaved, format="TIFF")
    assert probe_bytes(resaved.getvalue()).pixel_hash == probe.pixel_hash
    assert probe_bytes(path.read_bytes(), near=True).near_hash is not None


def test_decode_converts_every_mode_to_rgb():
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (10, 20, 30, 40)).save(buffer, format="PNG")
    assert decode_image({"bytes": buffer.getvalue(), "path": "x.png"}).mode == "RGB"


def test_exif_orientation_is_applied_as_the_pipeline_applies_it():
    pixels = np.zeros((10, 30, 3), dtype=np.uint8)
    pixels[:, :5] = 255
    exif = Image.Exif()
    exif[Image.ExifTags.Base.Orientation] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif, quality=95)
    decoded = decode_image({"bytes": buffer.getvalue(), "path": "rotated.jpg"})
    assert decoded.size == (10, 30)  # upright: the stored 30x10 turned on its side
    assert np.array_equal(np.asarray(decoded), np.asarray(upright_rgb(Image.open(io.BytesIO(buffer.getvalue())))))


def test_a_corrupt_or_missing_image_names_its_file(deepart_sample, tmp_path):
    data = (deepart_sample / "Human" / "Gushici-3.PNG").read_bytes()
    with pytest.raises(DeepArtError, match=r"cannot decode image 'Human/Gushici-3.PNG': .*truncated"):
        decode_image({"bytes": data[: len(data) // 2], "path": "Human/Gushici-3.PNG"})
    with pytest.raises(DeepArtError, match="'Aigc/x.jpg': not an image"):
        decode_image({"bytes": b"not an image", "path": "Aigc/x.jpg"})
    with pytest.raises(DeepArtError, match="missing.png"):
        decode_image({"bytes": None, "path": str(tmp_path / "missing.png")})
