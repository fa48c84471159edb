# GENERATED from src/pgwire/_notify_async.py by scripts/gen_sync.py: do not edit.
"""Notices and notifications (``LISTEN``/``NOTIFY``) of the async driver: handlers,
listeners and waiting for a notification while idle.

The pump delivers them as they arrive (``Pump._on_notice``/``_on_notification``);
this module is the API around that. This is the async source; ``scripts/gen_sync.py``
generates ``_notify_sync.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pgwire._queries_sync import Queries
from pgwire.copy import (
    quote_identifier,
)
from pgwire.errors import (
    InterfaceError,
    error_from_fields,
)
from pgwire.errors import PostgresNotice as Notice
from pgwire.operations import (
    Notification,
)
from pgwire.protocol import (
    ErrorResponse,
)

__all__ = ["Notifications"]


class Notifications(Queries):
    """Notice handlers, notification listeners and waiting for notifications."""

    def add_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Call ``handler(notice)`` for every NOTICE/WARNING the server sends."""
        self._notice_handlers.append(handler)

    def remove_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Stop calling ``handler`` for notices."""
        self._notice_handlers.remove(handler)

    def clear_handlers(self) -> None:
        """Drop every notice handler and listener callback, and the notifications not yet
        taken. The server still sends what the session LISTENs to (``UNLISTEN *`` stops
        that); a pool calls this when a connection comes back, before its reset."""
        self._notice_handlers.clear()
        self._listeners.clear()
        self.pending_notifications.clear()

    def add_listener(self, channel: str, callback: Callable[[Notification], object]) -> None:
        """``LISTEN`` on ``channel`` and call ``callback(notification)`` for each NOTIFY.

        Callbacks run while the connection reads (during any query, or while waiting in
        :meth:`wait_for_notification`); they must not use this connection.
        """
        if channel not in self._listeners:
            self.execute(f"LISTEN {quote_identifier(channel)}")
            self._listeners[channel] = []
        self._listeners[channel].append(callback)

    def remove_listener(self, channel: str, callback: Callable[[Notification], object]) -> None:
        """Stop calling ``callback``; ``UNLISTEN`` when it was the channel's last one."""
        callbacks = self._listeners.get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks and channel in self._listeners:
            del self._listeners[channel]
            self.execute(f"UNLISTEN {quote_identifier(channel)}")

    def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        """The next NOTIFY not taken by a listener, waiting (while idle) up to ``timeout``
        seconds; ``None`` if none came."""
        self._check_open()
        if self.pending_notifications:
            return self.pending_notifications.popleft()
        with self._in_use():
            if self._core.in_flight:
                raise InterfaceError("cannot wait for notifications while a query is in flight")
            while not self.pending_notifications:
                try:
                    event = self._read_event(timeout)
                except TimeoutError:
                    return None
                if isinstance(event, ErrorResponse):
                    self._abort()
                    raise error_from_fields(event.fields)
                self._dispatch_async_message(event)
        return self.pending_notifications.popleft()

    def notifications(self) -> Iterator[Notification]:
        """Every NOTIFY not taken by a listener, forever: ``for n in conn.notifications()``.

        Waiting reads the connection, so give the loop a connection of its own.
        """
        while True:
            notification = self.wait_for_notification()
            if notification is not None:
                yield notification
