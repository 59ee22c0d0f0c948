"""Messages the worker thread posts to the app (post_message is thread-safe)."""

from __future__ import annotations

from textual.message import Message


class EngineEvents(Message):
    """A batch of engine events in order; a str among them is a reader's warning."""

    def __init__(self, events: tuple) -> None:
        super().__init__()
        self.events = events


class RunRefused(Message):
    """prepare() rejected the experiment (a UserError): shown on Setup, no run starts."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RunError(Message):
    """A run ended on an error: its directory could not be written, or a fault failed it."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
