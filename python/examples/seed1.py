"""Example 1 of the seed article (docs: /work/shared/seed/article.md): list the
physical devices, multiply two random matrices, print where that ran.

The article's code, unchanged except for its import line.
"""
import ctensor as tf

# Attempt to use GPU if available (automatic detection).
print("Devices:", tf.config.list_physical_devices())

# Simple matrix multiplication operation.
a = tf.random.normal((1000, 1000))
b = tf.random.normal((1000, 1000))
c = tf.matmul(a, b)

print("Result tensor device:", c.device)
