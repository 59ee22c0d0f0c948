"""Shared test settings."""

import torch

# Tiny models gain nothing from intra-op threads, and on a shared 2-core machine
# OpenMP threads waiting on each other make each step 5-10x slower.
torch.set_num_threads(1)
