"""``tf.keras.optimizers``: Keras 3's SGD and Adam (see ctensor.optimizers)."""

from ..optimizers import SGD, Adam, Optimizer

__all__ = ["Optimizer", "SGD", "Adam"]
