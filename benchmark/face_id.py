"""ID: multi-view identity consistency with dlib's 128-D face embedding (ResNet v1).

Not ArcFace (the paper's embedding): numbers are comparable only with the same embedding, so
the metric is named ``id_dlib_resnet_v1``. The models come from the optional packages
``dlib-bin`` (or ``dlib``) and ``face-recognition-models`` (CC0 model files), imported lazily.

Face region: synthetic renders are small (64–128 px) and the HOG face detector often misses
them, but the camera is known and the head sits at the origin facing +z. So the face box is
the bounding square of the projected face region (:data:`FACE_BOX`, scene units of the
dataset's head model: chin to crown ≈ 0.40, eyes at y ≈ 0). dlib's 5-point landmark model
places the eyes and nose inside that box, and the descriptor is computed on dlib's aligned
150×150 face chip.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np

from geogen.common.cameras import Camera

METRIC_NAME = "id_dlib_resnet_v1"
# Corners of the 3D face region (x: cheek to cheek, y: chin to brow, z: cheeks to nose tip).
FACE_BOX = np.array(list(itertools.product((-0.085, 0.085), (-0.19, 0.06), (0.06, 0.18))))


def _model_dir() -> Path | None:
    # face_recognition_models' __init__ imports pkg_resources (absent in modern setuptools),
    # so the model folder is located without importing the package.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "models"


def face_box(camera: Camera, scale: float = 1.0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixel square around the projected face region of ``camera``."""
    uv, _ = camera.project(FACE_BOX * scale)
    (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


class FaceEmbedder:
    """dlib 5-point landmarks + ResNet face descriptor on a given face box."""

    name = METRIC_NAME

    def __init__(self):
        import dlib

        models = _model_dir()
        self.dlib = dlib
        self.landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """128-D descriptor of the face in ``box`` of an RGB uint8 image."""
        img = np.ascontiguousarray(image, dtype=np.uint8)
        shape = self.landmarks(img, self.dlib.rectangle(*box))
        return np.asarray(self.net.compute_face_descriptor(img, shape), dtype=np.float64)


def load_face_embedder():
    """(FaceEmbedder or None, status dict): unavailable with the reason when a package is missing."""
    from .image_metrics import unavailable

    try:
        import dlib  # noqa: F401
    except Exception as exc:
        return None, unavailable(f"dlib is not importable ({type(exc).__name__}); install the optional "
                                 "packages dlib-bin and face-recognition-models")
    models = _model_dir()
    needed = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
    if models is None or not all((models / n).is_file() for n in needed):
        return None, unavailable("face-recognition-models (dlib's model files) is not installed; "
                                 "pip install face-recognition-models")
    return FaceEmbedder(), {"status": "ok", "embedding": METRIC_NAME, "models": str(models)}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def mean_pairwise_cosine(embeddings: list[np.ndarray]) -> float:
    """Mean cosine similarity over all unordered pairs of one sample's view embeddings."""
    pairs = list(itertools.combinations(range(len(embeddings)), 2))
    return float(np.mean([cosine(embeddings[i], embeddings[j]) for i, j in pairs]))
