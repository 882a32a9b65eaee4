Page({
  data: { cat: '', items: [{ id: 'i1', name: 'Longjing' }, { id: 'i2', name: 'Pu-erh' }] },
  onLoad(query) {
    this.setData({ cat: query.cat || '' })
  },
  open(e) {
    wx.navigateTo({ url: '/pages/item/item?id=' + e.currentTarget.dataset.id })
  }
})
