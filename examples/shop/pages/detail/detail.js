const { find } = require('../../utils/products.js')
const cart = require('../../utils/cart.js')

Page({
  data: { product: null, qty: 1 },
  onLoad(query) {
    const product = find(query.id)
    this.setData({ product })
    if (product) wx.setNavigationBarTitle({ title: product.name })
  },
  inc() {
    if (this.data.qty < this.data.product.stock) this.setData({ qty: this.data.qty + 1 })
  },
  dec() {
    if (this.data.qty > 1) this.setData({ qty: this.data.qty - 1 })
  },
  addToCart() {
    cart.add(this.data.product, this.data.qty)
    this.getOpenerEventChannel().emit('added', { qty: this.data.qty })
    wx.navigateBack()
  }
})
