Page({
  data: { id: '' },
  onLoad(query) {
    this.setData({ id: query.id || 'none' })
  },
  toOther() {
    wx.switchTab({ url: '/pages/other/other' })
  }
})
