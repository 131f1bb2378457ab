"""Example 3 of the seed article: one tensor inside an explicit '/CPU:0'
scope, one placed automatically, and where each landed.

The article's code, unchanged except for its import line.
"""
import ctensor as tf
# Example using the base 'tensorflow' package
print("Devices:", tf.config.list_physical_devices())

# Function which creates a TensorFlow tensor in the default device
def create_on_device():
  with tf.device('/CPU:0'):
    # Create a tensor explicitly on CPU.
    cpu_tensor = tf.random.normal((100, 100))
    print(f"CPU tensor created on: {cpu_tensor.device}")

  # No device spec. The TensorFlow will auto-select
  gpu_tensor = tf.random.normal((100,100))
  print(f"GPU or CPU tensor created on: {gpu_tensor.device}")

  return gpu_tensor

my_tensor = create_on_device()

