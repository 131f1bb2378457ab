"""``tf.math``: the elementwise and reduction ops under their math names."""

from ._ops import (abs, add, argmax, divide, equal, exp, floordiv, floormod, greater, greater_equal, less,
                   less_equal, log, log_softmax, maximum, minimum, mod, multiply, negative, not_equal, pow,
                   reduce_max, reduce_mean, reduce_min, reduce_sum, sigmoid, softmax, sqrt, square, subtract, tanh,
                   truediv, unsorted_segment_sum)

__all__ = ["abs", "add", "argmax", "divide", "equal", "exp", "floordiv", "floormod", "mod", "greater", "greater_equal", "less", "less_equal",
           "log", "log_softmax", "maximum", "minimum", "multiply", "negative", "not_equal", "pow", "reduce_max",
           "reduce_mean", "reduce_min", "reduce_sum", "sigmoid", "softmax", "sqrt", "square", "subtract", "tanh",
           "truediv", "unsorted_segment_sum"]
