"""A small ResNet with BatchNorm, for 8x8 digit images: the kind of model a user brings.

tuilab calls build(input_shape, out_dim) and trains what it returns. BatchNorm makes
each example's output depend on the rest of its batch, so per-example gradients are
not exact here: the lab measures gradient noise from minibatch gradients instead.
"""

from torch import nn


class Block(nn.Module):
    """conv-BN-ReLU-conv-BN plus a shortcut (a 1x1 conv when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


def build(input_shape, out_dim, width=8):
    """The model tuilab trains: input_shape is one example's shape, e.g. (1, 8, 8)."""
    channels = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        Block(width, width), Block(width, 2 * width, stride=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, out_dim))
