"""Host apps: encryption keys, API credentials, which apps each host may run, allowlists."""
