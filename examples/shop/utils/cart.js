const KEY = 'cart'

function read() {
  const items = wx.getStorageSync(KEY)
  return Array.isArray(items) ? items : []
}

function write(items) {
  wx.setStorageSync(KEY, items)
  getApp().globalData.cartCount = count(items)
}

function add(product, qty) {
  const items = read()
  const found = items.find(i => i.id === product.id)
  if (found) found.qty += qty
  else items.push({ id: product.id, name: product.name, price: product.price, qty })
  write(items)
  return items
}

function count(items) {
  return (items || read()).reduce((n, i) => n + i.qty, 0)
}

module.exports = { read, write, add, count }
