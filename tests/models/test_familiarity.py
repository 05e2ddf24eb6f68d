"""Familiarity: the distance of an image to its k-th nearest stored training image, and the threshold above which
it is unlike them."""

import logging

import huggingface_hub.constants
import numpy as np
import pytest

from deepart_hf.errors import DeepArtError
from deepart_hf.models.familiarity import FAMILIARITY_FILE, MAX_STORED, Familiarity, stratified_sample


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def clusters(n: int = 60, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two labelled clusters of unnormalised feature vectors around different directions."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centres = np.stack([np.eye(dim)[0], np.eye(dim)[1]]) * 5
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


def brute_force_kth(query: np.ndarray, stored: np.ndarray, k: int, skip: int | None = None) -> float:
    """1 - cos to the k-th nearest stored row, one comparison at a time."""
    query = query / np.linalg.norm(query)
    distances = sorted(
        1.0 - float(np.dot(query, row / np.linalg.norm(row))) for index, row in enumerate(stored) if index != skip
    )
    return distances[k - 1]


def test_distances_are_the_cosine_distance_to_the_kth_nearest_stored_image():
    features, labels = clusters()
    familiarity = Familiarity.fit(features, labels, k=3)
    queries = np.random.default_rng(1).normal(size=(7, 8)).astype(np.float32) * 4
    expected = [brute_force_kth(q, familiarity.features, 3) for q in queries]
    np.testing.assert_allclose(familiarity.distances(queries), expected, atol=1e-6)
    # the stored features are unit vectors, and the scale of a query does not matter
    np.testing.assert_allclose(np.linalg.norm(familiarity.features, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(familiarity.distances(queries * 100), familiarity.distances(queries), atol=1e-6)


def test_leave_one_out_distances_exclude_the_image_itself_but_not_its_copies():
    features, labels = clusters(n=40)
    familiarity = Familiarity.fit(features, labels, k=2)
    expected = sorted(brute_force_kth(features[i], features, 2, skip=i) for i in range(40))
    np.testing.assert_allclose(familiarity.reference_distances, expected, atol=1e-6)
    assert familiarity.reference_distances.min() > 0.0  # no image is its own neighbour

    # a stored copy of an image is its nearest neighbour: with k=1 both copies are at distance 0
    doubled = Familiarity.fit(np.concatenate([features, features[:1]]), np.append(labels, labels[0]), k=1)
    assert np.sum(doubled.reference_distances < 1e-6) == 2


def test_the_threshold_is_the_percentile_of_the_stored_images_own_distances():
    features, labels = clusters(n=200)
    familiarity = Familiarity.fit(features, labels, percentile=90.0)
    assert familiarity.threshold == pytest.approx(np.percentile(familiarity.reference_distances, 90.0), abs=1e-12)
    assert (familiarity.k, familiarity.percentile) == (5, 90.0)
    # about 10% of the stored images lie beyond their own threshold
    assert np.mean(~familiarity.familiar(familiarity.reference_distances)) == pytest.approx(0.10, abs=0.01)

    reference = familiarity.reference_distances
    np.testing.assert_allclose(familiarity.percentiles([0.0, reference[49], 5.0]), [0.0, 25.0, 100.0])
    np.testing.assert_array_equal(
        familiarity.familiar([familiarity.threshold, familiarity.threshold + 1e-9]), [True, False]
    )


def test_images_from_elsewhere_lie_beyond_the_threshold():
    features, labels = clusters(n=200)
    familiarity = Familiarity.fit(features, labels)
    near, _ = clusters(n=100, seed=7)  # new images drawn like the stored ones
    far = np.random.default_rng(3).normal(size=(100, 8)).astype(np.float32) + np.eye(8)[5] * 5
    assert np.mean(familiarity.familiar(familiarity.distances(near))) > 0.85
    assert np.mean(familiarity.familiar(familiarity.distances(far))) == 0.0
    assert np.all(familiarity.percentiles(familiarity.distances(far)) == 100.0)


def test_the_stored_sample_is_capped_stratified_by_label_and_seeded():
    labels = np.array([0] * 750 + [1] * 250)
    kept = stratified_sample(labels, 100, seed=0)
    assert len(kept) == 100 and np.all(np.diff(kept) > 0)
    assert np.bincount(labels[kept]).tolist() == [75, 25]
    np.testing.assert_array_equal(kept, stratified_sample(labels, 100, seed=0))
    assert not np.array_equal(kept, stratified_sample(labels, 100, seed=1))
    # a rare label keeps one image; nothing is dropped below the cap
    rare = np.array([0] * 999 + [1])
    assert np.bincount(rare[stratified_sample(rare, 10)]).tolist() == [9, 1]
    np.testing.assert_array_equal(stratified_sample(labels[:50], 100), np.arange(50))

    features = np.random.default_rng(0).normal(size=(1000, 4)).astype(np.float32)
    familiarity = Familiarity.fit(features, labels, max_stored=100)
    assert familiarity.size == 100 and np.bincount(familiarity.labels).tolist() == [75, 25]
    assert MAX_STORED == 2000


def test_save_and_load_give_back_the_same_numbers(tmp_path):
    features, labels = clusters()
    familiarity = Familiarity.fit(features, labels, k=4, percentile=97.5)
    path = familiarity.save(tmp_path)
    assert path == tmp_path / FAMILIARITY_FILE and [p.name for p in tmp_path.iterdir()] == [FAMILIARITY_FILE]
    loaded = Familiarity.load(tmp_path)
    np.testing.assert_array_equal(loaded.features, familiarity.features)
    np.testing.assert_array_equal(loaded.labels, familiarity.labels)
    np.testing.assert_array_equal(loaded.reference_distances, familiarity.reference_distances)
    assert (loaded.threshold, loaded.k, loaded.percentile) == (familiarity.threshold, 4, 97.5)
    (tmp_path / "model.onnx").write_bytes(b"")  # a file beside it names the same folder
    np.testing.assert_array_equal(Familiarity.load(tmp_path / "model.onnx").features, familiarity.features)
    assert loaded.features.dtype == np.float32
    queries = np.random.default_rng(2).normal(size=(5, 8))
    np.testing.assert_array_equal(loaded.distances(queries), familiarity.distances(queries))


def test_a_detector_without_familiarity_loads_none(tmp_path, caplog):
    assert Familiarity.load(tmp_path) is None
    with caplog.at_level(logging.INFO):
        assert Familiarity.load("someone/detector") is None  # offline, nothing cached: the detector says so
    assert FAMILIARITY_FILE in caplog.text and "someone/detector" in caplog.text
    with pytest.raises(DeepArtError, match="no such model folder"):
        Familiarity.load(tmp_path / "missing" / "folder")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "not a readable familiarity file"),
        (lambda data: b"\x00" * 8 + data[8:], "not a readable familiarity file"),
        (lambda data: b"", "not a readable familiarity file"),
    ],
)
def test_a_damaged_file_is_refused_in_one_line_naming_it(tmp_path, damage, message):
    features, labels = clusters()
    path = Familiarity.fit(features, labels).save(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DeepArtError, match=message) as error:
        Familiarity.load(tmp_path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_safetensors_file_of_something_else_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file({"weight": np.zeros((3, 3), dtype=np.float32)}, str(tmp_path / FAMILIARITY_FILE))
    with pytest.raises(DeepArtError, match="not a usable familiarity file: its format is None") as error:
        Familiarity.load(tmp_path)
    assert str(tmp_path / FAMILIARITY_FILE) in str(error.value)


def test_fitting_refuses_what_it_cannot_measure():
    features, labels = clusters(n=5)
    with pytest.raises(DeepArtError, match="more than k=5 images"):
        Familiarity.fit(features, labels)
    with pytest.raises(DeepArtError, match="NaN"):
        Familiarity.fit(np.full((10, 3), np.nan), np.zeros(10), k=2)
    familiarity = Familiarity.fit(features, labels, k=2)
    with pytest.raises(DeepArtError, match="another model"):
        familiarity.distances(np.ones((1, 3)))


def test_a_hub_detectors_familiarity_is_fetched_and_its_absence_is_none(tmp_path, monkeypatch):
    from huggingface_hub.errors import EntryNotFoundError

    import deepart_hf.models.familiarity as module

    features, labels = clusters()
    Familiarity.fit(features, labels).save(tmp_path)
    asked = []

    def download(repo_id, filename):
        asked.append((repo_id, filename))
        if repo_id == "org/old-detector":
            raise EntryNotFoundError(f"{filename} is not in {repo_id}")
        return str(tmp_path / filename)

    monkeypatch.setattr(module, "hf_hub_download", download)
    fetched = Familiarity.load("org/detector")
    np.testing.assert_array_equal(fetched.features, Familiarity.load(tmp_path).features)
    assert Familiarity.load("org/old-detector") is None
    assert asked == [("org/detector", FAMILIARITY_FILE), ("org/old-detector", FAMILIARITY_FILE)]
