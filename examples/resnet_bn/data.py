"""The data factory: tuilab calls load() and trains on what it returns.

Here the 1797 handwritten 8x8 digits bundled with scikit-learn (no download), as
numpy arrays: x of shape (n, 1, 8, 8) in [0, 1] and integer labels y, so the task is
classification. Returning (x, y) lets tuilab hold out dataset.test_fraction for test;
return (x, y, x_test, y_test) to give your own test set.
"""

import numpy as np
from sklearn.datasets import load_digits


def load():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # channels first: (n, 1, 8, 8)
    return x, d.target.astype(np.int64)
