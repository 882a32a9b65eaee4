"""The embedding API: a host app runs mini-programs through `Host`."""

from minibox.host.host import Host, HostConfig

__all__ = ["Host", "HostConfig"]
