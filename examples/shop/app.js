const cart = require('./utils/cart.js')

App({
  globalData: { cartCount: 0 },
  onLaunch() {
    this.globalData.cartCount = cart.count()
  }
})
