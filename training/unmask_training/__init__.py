"""unmask-training: what makes and measures unmask's models (training, fusion fitting, perturbed benches).

Inference never needs it: ``unmask`` does not import this package.
"""
