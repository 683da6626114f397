"""Procedural head model: SDF parts, hair, clothing, glasses and procedural materials."""

from .model import PARTS, HeadModel, build_head, sdf_normals

__all__ = ["PARTS", "HeadModel", "build_head", "sdf_normals"]
