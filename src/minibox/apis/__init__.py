"""The wx.* API families the host implements, and the registry that governs every call."""
