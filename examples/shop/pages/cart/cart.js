const cart = require('../../utils/cart.js')

Page({
  data: { items: [] },
  onShow() {
    this.setData({ items: cart.read() })
  },
  checkout() {
    wx.showModal({
      title: 'Checkout',
      content: 'Pay for ' + cart.count(this.data.items) + ' items?',
      confirmText: 'Pay'
    }).then(res => {
      if (!res.confirm) return
      cart.write([])
      this.setData({ items: [] })
      wx.showToast({ title: 'Paid', icon: 'success' })
    })
  }
})
