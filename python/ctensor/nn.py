"""``tf.nn``: activations and the softmax losses."""

from ._ops import (log_softmax, relu, sigmoid, softmax, softmax_cross_entropy_with_logits,
                   sparse_softmax_cross_entropy_with_logits, tanh)

__all__ = ["log_softmax", "relu", "sigmoid", "softmax", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits", "tanh"]
