"""The audit log. Importing the package installs the commit hooks that write and chain
events (``app.audit.chain``), so no session can store an event outside the chain."""

from app.audit import chain as _chain  # noqa: F401
