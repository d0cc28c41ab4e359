"""The one error tree of virtprov.

The class of an error decides what a scheduler does next, so providers map their
cloud's failures into these classes and nobody above them matches message strings:

* :class:`HostRequiresError` - the recipe's requirements are malformed: tell the user.
* :class:`ConfigError` - the operator's configuration is wrong: tell the operator.
* :class:`PluginError` - a provider plugin cannot be loaded.
* :class:`ProviderError` - a cloud call failed, refined into
  :class:`CapacityExhausted` (fall back to hardware now, retry later),
  :class:`TransientError` (retry with backoff), :class:`PermanentError` (disable the
  provider and say why) and :class:`GuestNotFound`.
"""

from __future__ import annotations


class VirtprovError(Exception):
    """Base class of every error virtprov raises on purpose."""


class HostRequiresError(VirtprovError, ValueError):
    """A ``<hostRequires/>`` (or tmt ``hardware:``) document is malformed or hostile.

    ``line`` and ``column`` locate the problem in the source text when known;
    ``element`` names the offending XML element, ``key`` the tmt key path.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        element: str | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.element = element
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.element:
            where.append(f"<{self.element}>")
        if self.key:
            where.append(self.key)
        if self.line is not None:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        return f"{' at '.join(where)}: {self.message}" if where else self.message


class ConfigError(VirtprovError):
    """The configuration is wrong. The message names the file, the key and the fix."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.message = message
        self.path = path
        self.key = key
        location = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{location}: {message}" if location else message)


class PluginError(VirtprovError):
    """A provider plugin could not be found or loaded.

    Carries the entry-point name, the distribution and version that declared it (when
    known) and the formatted traceback of the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self.traceback = traceback
        super().__init__(message)


class ProviderError(VirtprovError):
    """A provider operation failed. ``provider`` names the configured provider."""

    def __init__(
        self, message: str, *, provider: str | None = None, guest_id: str | None = None
    ) -> None:
        self.message = message
        self.provider = provider
        self.guest_id = guest_id
        super().__init__(f"{provider}: {message}" if provider else message)

    def fill_in(self, *, provider: str, guest_id: str | None = None) -> None:
        """Fill in the provider's name and the guest's id where the raiser left them out.

        What a provider sets itself is kept. :class:`virtprov.Provider` calls this on every
        error leaving one of its methods, so that a plugin need not thread its name into
        each error it raises.
        """
        if self.guest_id is None:
            self.guest_id = guest_id
        if not self.provider:
            self.provider = provider
            self.args = (f"{provider}: {self.message}",)


class CapacityExhausted(ProviderError):
    """The cloud cannot take this guest now (quota, no valid host, storage full).

    The scheduler falls back to hardware now and may try the cloud again later.
    """


class TransientError(ProviderError):
    """A failure that is likely to go away (timeout, connection error, 5xx, rate limit).

    ``retry_after`` is the delay in seconds the cloud asked for, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        guest_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, guest_id=guest_id)
        self.retry_after = retry_after


class PermanentError(ProviderError):
    """A failure that retrying will not fix (bad credentials, missing image or network).

    The message says what to fix. A pool disables the provider until it is re-enabled.
    """


class GuestNotFound(ProviderError):
    """The cloud does not know the guest (it never existed or is gone)."""


class JournalError(VirtprovError):
    """The pool's journal cannot be used: unreachable, or of another schema version.

    The message says what to do (e.g. run ``virtprov journal upgrade``).
    """
