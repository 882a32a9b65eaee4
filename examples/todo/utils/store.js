const KEY = 'todos'

function load() {
  const list = wx.getStorageSync(KEY)
  return Array.isArray(list) ? list : []
}

function save(list) {
  wx.setStorageSync(KEY, list)
}

module.exports = { load, save, KEY }
