"""The Textual lab over the headless engine: app, screens, widgets, one tuilab.tcss.

Nothing here imports torch at module level, so the first frame comes before
torch is loaded; the engine is imported inside the worker thread.
"""
