"""Where the time of the training input pipeline goes, per image, on the real DeepArt sample.

Measures single-threaded: decoding per file format (the human paintings are PNG, the AI ones JPEG), the
work after decoding for the resize-to-SIZE and crop-SIZE paths, the blur/JPEG augmentation, whole
transforms in images/s, ``pre_resize`` (once, then the transform on its output), and a DataLoader with
0 and 2 workers as the Trainer builds it. Prints the figures and saves them as JSON.

    python benchmarks/decode_speed.py [--sample ../shared/data/deepart] [--size 224]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as F
from datasets import Dataset, Features, Image, Value, concatenate_datasets
from PIL import Image as PILImage
from timing import per_call_ms
from torch.utils.data import DataLoader

from deepart_hf.data.images import decode_image
from deepart_hf.files import write_json
from deepart_hf.models import create_model
from deepart_hf.models.preprocessing import PixelValues, collate
from deepart_hf.training.augment import BlurJpeg, TrainTransform, pre_resize

HERE = Path(__file__).resolve().parent
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def summary(times_ms: list[float]) -> dict:
    return {
        "n": len(times_ms),
        "median_ms": round(statistics.median(times_ms), 2),
        "mean_ms": round(statistics.fmean(times_ms), 2),
    }


def images_per_second(fn, values) -> float:
    start = time.perf_counter()
    for value in values:
        fn(value)
    return round(len(values) / (time.perf_counter() - start), 1)


def load_sample(sample: Path) -> list[dict]:
    files = sorted(p for folder in ("Human", "Aigc") for p in (sample / folder).iterdir() if p.is_file())
    return [{"bytes": p.read_bytes(), "path": f"{p.parent.name}/{p.name}"} for p in files]


def file_format(value: dict) -> str:
    return (
        "PNG"
        if value["bytes"][:8] == b"\x89PNG\r\n\x1a\n"
        else "JPEG"
        if value["bytes"][:2] == b"\xff\xd8"
        else "other"
    )


def dataloader_images_per_second(dataset: Dataset, transform, workers: int, context: str | None = None) -> float:
    dataset = dataset.with_transform(transform)
    loader = DataLoader(
        dataset,
        batch_size=16,
        num_workers=workers,
        collate_fn=collate,
        multiprocessing_context=context if workers else None,
    )
    start = time.perf_counter()  # worker start-up included: the Trainer restarts workers every epoch
    count = sum(len(batch["labels"]) for batch in loader)
    return round(count / (time.perf_counter() - start), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "decode_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(1)  # what one DataLoader worker gets
    size = args.size

    values = load_sample(args.sample)
    by_format: dict[str, list[dict]] = {}
    for value in values:
        by_format.setdefault(file_format(value), []).append(value)
    decoded = [decode_image(value) for value in values]
    width, height = decoded[0].size

    results: dict = {
        "images": len(values),
        "image_size_px": f"{width}x{height}",
        "model_input_px": size,
        "decode": {
            fmt: {
                **summary(per_call_ms(decode_image, group)),
                "mean_file_mb": round(statistics.fmean(len(v["bytes"]) for v in group) / 1e6, 2),
            }
            for fmt, group in sorted(by_format.items())
        },
    }

    def reencoded(fmt: str, **options) -> list[dict]:
        buffers = [io.BytesIO() for _ in decoded[:10]]
        for image, buffer in zip(decoded, buffers):
            image.save(buffer, format=fmt, **options)
        return [{"bytes": buffer.getvalue(), "path": None} for buffer in buffers]

    # what a cache of native-resolution pixels would cost to read back, losslessly
    results["decode_native_lossless_cache"] = {
        "PNG compress_level=1": summary(per_call_ms(decode_image, reencoded("PNG", compress_level=1))),
        "TIFF uncompressed": {
            **summary(per_call_ms(decode_image, reencoded("TIFF"))),
            "mb_per_image": round(width * height * 3 / 1e6, 2),
        },
    }

    def torch_resize(image):
        pixels = F.resize(
            F.pil_to_tensor(image), [size, size], interpolation=F.InterpolationMode.BICUBIC, antialias=True
        )
        return F.normalize(F.to_dtype(pixels, torch.float32, scale=True), MEAN, STD)

    def pillow_resize(image):
        pixels = F.pil_to_tensor(image.resize((size, size), PILImage.BICUBIC))
        return F.normalize(F.to_dtype(pixels, torch.float32, scale=True), MEAN, STD)

    def centre_crop(image):
        pixels = F.center_crop(F.pil_to_tensor(image), [size, size])
        return F.normalize(F.to_dtype(pixels, torch.float32, scale=True), MEAN, STD)

    augment = BlurJpeg(1.0)
    results["after_decode"] = {
        f"resize_{size}_torch_uint8 (ViT processor)": summary(per_call_ms(torch_resize, decoded)),
        f"resize_{size}_pillow (timm processor)": summary(per_call_ms(pillow_resize, decoded)),
        f"crop_{size}": summary(per_call_ms(centre_crop, decoded)),
        "blur_jpeg_prob_1": summary(per_call_ms(augment, decoded, repeats=1)),
    }

    # The processors a detector is saved with: timm's (Pillow resize), ViT's (torchvision resize), the crop detector's
    timm_processor = create_model("resnet18", from_scratch=True, image_size=size)[1]
    vit_processor = create_model("vit-test", from_scratch=True, image_size=size)[1]
    crop_processor = create_model("resnet18", from_scratch=True, image_size=size, preprocess="crop")[1]
    crop5_processor = create_model("resnet18", from_scratch=True, image_size=size, preprocess="crop", eval_crops=5)[1]
    transforms = {
        "resize eval (timm processor)": PixelValues(timm_processor),
        "resize eval (ViT processor)": PixelValues(vit_processor),
        "resize train": TrainTransform(timm_processor),
        "crop train": TrainTransform(crop_processor),
        "crop eval, 5 crops": PixelValues(crop5_processor),
        "resize train, blur_jpeg_prob 0.1": TrainTransform(timm_processor, BlurJpeg(0.1)),
        "resize train, blur_jpeg_prob 0.5": TrainTransform(timm_processor, BlurJpeg(0.5)),
    }

    def one(transform):
        return lambda value: transform({"image": [value]})

    results["single_thread_images_per_s"] = {name: images_per_second(one(t), values) for name, t in transforms.items()}
    results["single_thread_images_per_s_by_format"] = {
        f"{name}, {fmt}": images_per_second(one(transforms[name]), group)
        for name in ("resize train", "crop train")
        for fmt, group in sorted(by_format.items())
    }

    features = Features({"image": Image(decode=False), "label": Value("int64")})
    dataset = Dataset.from_dict(
        {"image": values, "label": [int(v["path"].startswith("Aigc")) for v in values]}, features=features
    )
    start = time.perf_counter()
    resized = pre_resize(dataset, timm_processor)
    pre_resize_s = time.perf_counter() - start
    resized_values = list(resized.with_format(None)["image"])
    evaluate = transforms["resize eval (timm processor)"]
    same = all(
        torch.equal(evaluate({"image": [a]})["pixel_values"][0], evaluate({"image": [b]})["pixel_values"][0])
        for a, b in zip(values, resized_values)
    )
    results["pre_resize"] = {
        "one_off_s": round(pre_resize_s, 2),
        "stored_mb_per_image": round(statistics.fmean(len(v["bytes"]) for v in resized_values) / 1e6, 3),
        "resize train images/s after": images_per_second(one(transforms["resize train"]), resized_values),
        "identical_pixel_values": same,
    }

    epoch = concatenate_datasets([dataset] * 4)  # long enough that worker start-up does not dominate
    loaders = {"images_per_epoch": len(epoch)}
    for mode in ("resize", "crop"):
        transform = transforms[f"{mode} train"]
        for workers in (0, 2):
            loaders[f"{mode} train, workers={workers}"] = dataloader_images_per_second(epoch, transform, workers)
    loaders["resize train, workers=2, spawn"] = dataloader_images_per_second(
        epoch, transforms["resize train"], 2, "spawn"
    )
    loaders["resize train after pre_resize, workers=0"] = dataloader_images_per_second(
        concatenate_datasets([resized] * 4), transforms["resize train"], 0
    )
    results["dataloader_images_per_s"] = loaders

    results["environment"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pillow": PILImage.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results, indent=2))
    write_json(args.output, results)
    print(f"saved to {args.output}")


if __name__ == "__main__":
    main()
