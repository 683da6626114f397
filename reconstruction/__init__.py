"""Pseudo ground truth from calibrated images: sparse (pycolmap) → PatchMatch MVS (PyTorch) →
fusion → screened Poisson (Open3D). See docs/reconstruction.md."""

# Pillow must be loaded before pycolmap: with pycolmap imported first, Pillow's PNG
# encoder crashes the process ("double free or corruption", zlib symbols clash; measured
# with pycolmap 4.2.1 + Pillow here). Importing it here fixes the order for every module.
import PIL.Image  # noqa: F401
