"""Learned detectors trained on self-blended real faces (data generation and face extraction)."""
