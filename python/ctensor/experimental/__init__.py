"""ctensor.experimental: TensorFlow's tf.experimental names (dlpack)."""

from . import dlpack

__all__ = ["dlpack"]
