"""Example 2 of the seed article: make only the first GPU visible (if any),
list the logical GPUs, multiply two random matrices, print where that ran.

The article's code, unchanged except for its import line.
"""
import ctensor as tf

# Force TensorFlow to only use a GPU if available.
gpus = tf.config.list_physical_devices('GPU')
if gpus:
  try:
    tf.config.set_visible_devices(gpus[0], 'GPU') # Select first GPU for usage
    logical_gpus = tf.config.list_logical_devices('GPU')
    print("Logical GPUs:", logical_gpus)
  except RuntimeError as e:
     # Visible devices must be set before GPUs have been initialized
    print(e)

# Matrix operation as before.
a = tf.random.normal((1000, 1000))
b = tf.random.normal((1000, 1000))
c = tf.matmul(a, b)
print("Result tensor device:", c.device)
