Page({
  data: { k: '' },
  onLoad(query) {
    this.setData({ k: query.k || 'without k' })
  }
})
