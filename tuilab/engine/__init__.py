"""The headless engine: datasets, models, noise measurement, lanes and the run loop.

Nothing here imports textual or rich (a test checks), so it runs anywhere.
"""
