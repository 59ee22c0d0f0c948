"""Widgets of the Run and Plots screens."""
