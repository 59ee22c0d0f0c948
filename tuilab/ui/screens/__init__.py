"""Screens: setup (form), run (lanes side by side), plots, help."""
