"""Speaker embeddings for reference mode: mel features, the shipped GE2E encoder (ONNX), speech segments."""
