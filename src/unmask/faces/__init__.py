"""Faces: detection (mediapipe full-range), 478-point mesh on crops, and tracking."""

from unmask.faces.finder import FaceFinder, face_crop, find_tracks

__all__ = ["FaceFinder", "face_crop", "find_tracks"]
