Page({
  data: { count: 0, model: '' },
  onShow() {
    this.setData({ count: getApp().globalData.cartCount, model: wx.getSystemInfoSync().model })
  },
  showSystem() {
    wx.showActionSheet({ itemList: ['Clear cart', 'Keep'] }).then(res => {
      if (res.tapIndex === 0) {
        wx.removeStorageSync('cart')
        getApp().globalData.cartCount = 0
        this.setData({ count: 0 })
      }
    }).catch(() => {})
  }
})
