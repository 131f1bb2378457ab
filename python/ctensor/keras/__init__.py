"""``tf.keras``: the little of Keras that a plain TensorFlow training loop
touches -- ``keras.optimizers`` (SGD, Adam) and ``keras.initializers``
(GlorotUniform, GlorotNormal, Zeros). Layers, models, ``compile`` and
``fit`` are not provided: write the loop with ``GradientTape``
(docs/training.md)."""

from . import initializers, optimizers

__all__ = ["initializers", "optimizers"]
