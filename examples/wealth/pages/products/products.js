const app = getApp()

Page({
  data: {
    products: [
      { id: 'fund-a', name: 'Steady Income Fund', note: 'low risk', price: '19.99' },
      { id: 'fund-b', name: 'Global Growth Fund', note: 'medium risk', price: '5000.00' },
    ],
    status: '',
  },
  buy(e) {
    const product = e.currentTarget.dataset.id
    // the assistant's server creates the order with the bank and signs the pay parameters
    wx.request({
      url: `${app.globalData.api}/v1/orders`,
      method: 'POST',
      data: { product },
      success: (res) => {
        if (res.statusCode !== 200) { this.setData({ status: `Order refused (${res.statusCode}).` }); return }
        wx.requestPayment(Object.assign({}, res.data.payParams, {
          success: () => this.setData({ status: 'Paid. Thank you!' }),
          fail: (err) => this.setData({ status: `Not paid: ${err.errMsg}` }),
        }))
      },
      fail: (err) => this.setData({ status: err.errMsg }),
    })
  },
})
