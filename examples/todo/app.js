App({
  globalData: { launchedAt: 0, opened: 0 },
  onLaunch(options) {
    this.globalData.launchedAt = Date.now()
    this.globalData.entry = options.path
  },
  onShow() {
    this.globalData.opened += 1
  }
})
