Page({
  data: { total: 0, done: 0, ratio: 0 },
  onLoad(query) {
    const total = Number(query.total || 0)
    const done = Number(query.done || 0)
    this.setData({ total, done, ratio: total ? Math.round(done * 100 / total) : 0 })
    wx.setNavigationBarTitle({ title: `Stats (${total})` })
  },
  back() {
    wx.navigateBack()
  }
})
