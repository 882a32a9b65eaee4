const { products } = require('../../utils/products.js')

Page({
  data: { keyword: '', visible: [] },
  onLoad() {
    this.setData({ visible: products })
  },
  onSearch(e) {
    const keyword = e.detail.value
    const k = keyword.toLowerCase()
    this.setData({ keyword, visible: products.filter(p => p.name.toLowerCase().indexOf(k) >= 0) })
  },
  openDetail(e) {
    wx.navigateTo({
      url: '/pages/detail/detail?id=' + e.detail.id,
      events: {
        added(data) {
          wx.showToast({ title: 'Added ' + data.qty })
        }
      }
    })
  },
  onShareAppMessage() {
    return { title: 'Mini Shop', path: '/pages/home/home' }
  }
})
